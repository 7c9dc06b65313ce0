# The README's two commands: `make run` (the example) and `make test` (the suite).
# Both create .venv on first use; nothing is installed outside it except, for the
# tests, the Debian packages and npm modules they need (see `make test-deps`).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
EDGE   := $(VENV)/bin/edge
export EDGE_HOME ?= $(HOME)/.edge

.PHONY: setup run test test-deps lint clean sdk-examples

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "edge needs Python 3.11 or newer"'
	@$(PYTHON) -m venv $(VENV) || { echo "python venv missing: apt-get install python3-venv"; exit 1; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

setup: $(VENV)/.installed

run: setup
	$(EDGE) init
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(EDGE) run -f edge/examples/hello/dapr.yaml

test-deps:
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; \
	  else echo "the SDK tests need Node.js and npm: sudo apt-get install nodejs npm"; exit 1; fi; }
	@{ [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null; } && command -v socat >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq mosquitto socat >/dev/null; \
	  else echo "the MQTT and serial tests need Mosquitto and socat: sudo apt-get install mosquitto socat"; exit 1; fi; }
	@[ -n "$$EDGE_SKIP_VM_TESTS" ] || { command -v qemu-system-x86_64 >/dev/null && [ -x /bin/busybox ] && command -v depmod >/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-system-x86 busybox-static kmod gcc make >/dev/null; \
	  else echo "the GPIO tests boot a VM: sudo apt-get install qemu-system-x86 busybox-static kmod gcc make (or set EDGE_SKIP_VM_TESTS=1)"; exit 1; fi; }

test: setup test-deps
	$(VENV)/bin/ruff check edge tests
	$(PY) -m pytest -n 2 -q

# The official Dapr Python SDK's own examples, unchanged, against edge over gRPC (see
# README, Tests). Needs a python-sdk checkout or git directory, so not part of `make test`.
PYTHON_SDK ?= /work/.mirror/dapr+python-sdk/repo
SDK_EXAMPLES_FLAGS ?=

sdk-examples: setup
	$(PY) tests/sdk/python_examples.py $(SDK_EXAMPLES_FLAGS) "$(PYTHON_SDK)"

lint: setup
	$(VENV)/bin/ruff check edge tests

clean:
	rm -rf $(VENV) .pytest_cache
