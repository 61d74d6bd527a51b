# The commands of the README:
#   make demo       set up a fresh Debian 12 machine, build, and run the main job
#   make test       every test: swift test + pytest
#   make install    the binary, the systemd unit, the config and the default model (PREFIX, DESTDIR)
#   make uninstall  removes them again (a config that was edited stays)
# Every step is idempotent; `scripts/setup` skips what is already installed.

SWIFT_RELEASE := .build/release/flowd
PYTHON := .venv/bin/python
# `make test` builds once, optimised and with -enable-testing (so the Swift tests' @testable
# imports work), in its own folder: the Swift tests and the Python tests (which drive its flowd)
# share that one build, and it never invalidates the plain release build of `make build`.
TEST_BUILD := swift build -c release -Xswiftc -enable-testing --scratch-path .build-test
TEST_FLOWD := .build-test/release/flowd

.PHONY: setup build test demo swift-test pytest clean install uninstall

setup:
	@scripts/setup

build: setup
	swift build -c release --product flowd

demo: build
	$(SWIFT_RELEASE) demo

test: swift-test pytest

swift-test: setup
	$(TEST_BUILD) --build-tests
	swift test -c release -Xswiftc -enable-testing --scratch-path .build-test --skip-build

# The Python tests drive the optimised binary over real sockets and files.
pytest: setup
	$(TEST_BUILD) --product flowd
	FLOWD_BIN=$(abspath $(TEST_FLOWD)) $(PYTHON) -m pytest

clean:
	rm -rf .build .build-test .venv

# Install locations: `make install PREFIX=/usr DESTDIR=/tmp/stage` stages a package tree. The
# binary finds the default model at $(BINDIR)/../share/flowd (flowd's DefaultModel), so an
# empty model.path classifies with it; the unit's ExecStart names $(BINDIR)/flowd.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
MODELDIR = $(PREFIX)/share/flowd
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system

install: build
	install -D -m 0755 $(SWIFT_RELEASE) $(DESTDIR)$(BINDIR)/flowd
	install -D -m 0644 models/topgan-default.safetensors $(DESTDIR)$(MODELDIR)/topgan-default.safetensors
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/flowd
	for unit in flowd.service flowd@.service; do \
		sed -e 's|/usr/local/bin/flowd|$(BINDIR)/flowd|' -e 's|/etc/flowd/|$(SYSCONFDIR)/flowd/|g' \
			systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit && chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit; \
	done
	@# An edited config is never overwritten: the shipped one goes beside it as flowd.yaml.new.
	if [ -e $(DESTDIR)$(SYSCONFDIR)/flowd/flowd.yaml ] && ! cmp -s config/flowd.yaml $(DESTDIR)$(SYSCONFDIR)/flowd/flowd.yaml; then \
		install -m 0644 config/flowd.yaml $(DESTDIR)$(SYSCONFDIR)/flowd/flowd.yaml.new; \
	else \
		install -m 0644 config/flowd.yaml $(DESTDIR)$(SYSCONFDIR)/flowd/flowd.yaml; \
	fi
	@echo "installed; under systemd: systemctl daemon-reload && systemctl enable --now flowd"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/flowd $(DESTDIR)$(MODELDIR)/topgan-default.safetensors $(DESTDIR)$(UNITDIR)/flowd.service \
		$(DESTDIR)$(UNITDIR)/flowd@.service
	rm -f $(DESTDIR)$(SYSCONFDIR)/flowd/flowd.yaml.new
	cmp -s config/flowd.yaml $(DESTDIR)$(SYSCONFDIR)/flowd/flowd.yaml && rm -f $(DESTDIR)$(SYSCONFDIR)/flowd/flowd.yaml || true
	-rmdir $(DESTDIR)$(MODELDIR) $(DESTDIR)$(SYSCONFDIR)/flowd 2>/dev/null
