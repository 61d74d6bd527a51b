# The two commands of the README:
#   make demo   set up a fresh Debian 12 machine, build, and run the main job
#   make test   every test: swift test + pytest
# Every step is idempotent; `scripts/setup` skips what is already installed.

SWIFT_RELEASE := .build/release/flowd
PYTHON := .venv/bin/python

.PHONY: setup build test demo swift-test pytest clean

setup:
	@scripts/setup

build: setup
	swift build -c release --product flowd

demo: build
	$(SWIFT_RELEASE) demo

test: build swift-test pytest

swift-test: setup
	swift test

# The Python tests drive the release binary over real sockets and files.
pytest: setup
	FLOWD_BIN=$(abspath $(SWIFT_RELEASE)) $(PYTHON) -m pytest

clean:
	rm -rf .build .venv
