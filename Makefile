# LocalGPT for Swift. `make run` starts the assistant, `make test` passes the tests; both install
# what is missing first (scripts/setup.sh, idempotent).

SWIFT        ?= swift
CC           ?= cc
STRIP        ?= strip
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
# The C plugin is built by the C compiler from the ABI header alone. The staged libraries are copies
# with their debug info stripped (symbols stay, so backtraces still name functions): the host hashes
# and maps every bundled library at each start, and the Swift ones are about half debug info.
# The build products themselves are left as they are, for the debugger.
plugins:
	@mkdir -p $(BIN)/c-plugins $(BIN)/staged-plugins
	$(CC) $(C_PLUGIN_FLAGS) Plugins/SysInfo/sysinfo.c -o $(BIN)/c-plugins/libsysinfo.so
	@for lib in c-plugins/libsysinfo.so libLocalGPTPluginText.so libLocalGPTPluginTools.so \
		libLocalGPTPluginProviders.so; do \
		$(STRIP) --strip-debug -o $(BIN)/staged-plugins/$$(basename $$lib) $(BIN)/$$lib || exit 1; \
	done
	@$(BIN)/localgpt plugin package $(BIN)/staged-plugins/libsysinfo.so --out $(BUNDLED)/org.localgpt.sysinfo >/dev/null
	@$(BIN)/localgpt plugin package $(BIN)/staged-plugins/libLocalGPTPluginText.so --out $(BUNDLED)/org.localgpt.text >/dev/null
	@$(BIN)/localgpt plugin package $(BIN)/staged-plugins/libLocalGPTPluginTools.so --out $(BUNDLED)/org.localgpt.tools >/dev/null
	@$(BIN)/localgpt plugin package $(BIN)/staged-plugins/libLocalGPTPluginProviders.so --out $(BUNDLED)/org.localgpt.providers >/dev/null
	@echo "bundled plugins staged in $(BUNDLED) (debug info stripped)"

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
