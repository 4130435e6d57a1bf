# LocalGPT for Swift. `make run` starts the assistant, `make test` passes the tests; both install
# what is missing first (scripts/setup.sh, idempotent).

SWIFT        ?= swift
CC           ?= cc
CONFIG       ?= debug
SWIFT_FLAGS  ?=
BIN          := $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path 2>/dev/null || echo .build/$(CONFIG))
BUNDLED      := $(BIN)/plugins
ABI_INCLUDE  := Sources/CLocalGPTPlugin/include
C_PLUGIN_FLAGS := -std=c11 -O2 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I $(ABI_INCLUDE)

.PHONY: all setup build plugins run test bench release format lint clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build -c $(CONFIG) $(SWIFT_FLAGS)
	@$(MAKE) --no-print-directory plugins

# Stage the bundled plugins next to the binary: <bin>/plugins/<id>/{plugin.json, lib*.so}.
# The C plugin is built by the C compiler from the ABI header alone.
plugins:
	@mkdir -p $(BIN)/c-plugins
	$(CC) $(C_PLUGIN_FLAGS) Plugins/SysInfo/sysinfo.c -o $(BIN)/c-plugins/libsysinfo.so
	@$(BIN)/localgpt plugin package $(BIN)/c-plugins/libsysinfo.so --out $(BUNDLED)/org.localgpt.sysinfo >/dev/null
	@$(BIN)/localgpt plugin package $(BIN)/libLocalGPTPluginText.so --out $(BUNDLED)/org.localgpt.text >/dev/null
	@$(BIN)/localgpt plugin package $(BIN)/libLocalGPTPluginTools.so --out $(BUNDLED)/org.localgpt.tools >/dev/null
	@$(BIN)/localgpt plugin package $(BIN)/libLocalGPTPluginProviders.so --out $(BUNDLED)/org.localgpt.providers >/dev/null
	@echo "bundled plugins staged in $(BUNDLED)"

# The assistant: prepare the home, then chat (on the local default model unless config.toml says
# otherwise; the set-up script installs it).
run: build
	$(BIN)/localgpt init
	$(BIN)/localgpt chat

test: build
	$(SWIFT) test $(SWIFT_FLAGS)

release:
	@$(MAKE) --no-print-directory build CONFIG=release

bench: setup
	@$(MAKE) --no-print-directory build CONFIG=release
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark

format:
	bash scripts/format.sh

lint:
	bash scripts/format.sh --lint

clean:
	rm -rf .build Benchmarks/.build
