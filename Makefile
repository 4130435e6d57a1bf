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
	@echo "bundled plugins staged in $(BUNDLED)"

# Until the chat lands (issues 5 and 7), the assistant's main job is the plugin host: list the
# plugins, then run a tool from the Swift plugin and one from the C plugin.
run: build
	$(BIN)/localgpt init
	$(BIN)/localgpt plugin list
	$(BIN)/localgpt tool call current_time
	$(BIN)/localgpt tool call system_info

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
