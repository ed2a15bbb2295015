# mod_vmoodle: an Apache module, its httpd-free core, vcron and vmoodlectl.
#
#   make            build everything into build/
#   make run        install what is missing, build, start the demo
#   make test       install what is missing, build, run every test
#   make test-moodle MOODLE_SRC=moodle.tar.xz   the suite against real Moodle
#   make check      build and run every test, installing nothing
#   make install    install the module, tools, templates and manual pages
#                   (DESTDIR, PREFIX, MODULEDIR; nothing outside DESTDIR)
#   make deb        Debian packages into build/deb/ (debian/, Debian's tools)
#   make format     rewrite the C sources to .clang-format (tools/check-format
#                   only reports)
#
# CPPFLAGS, CFLAGS and LDFLAGS from the environment are honoured (so are
# dpkg-buildflags'); WERROR=0 builds without -Werror.
#
# The module's rules are in mod_vmoodle.mk; each other component adds its
# own in its folder's *.mk file.

BUILD    ?= build
PREFIX   ?= /usr/local
BINDIR   ?= $(PREFIX)/bin
DATADIR  ?= $(PREFIX)/share/vmoodle
MANDIR   ?= $(PREFIX)/share/man
WERROR   ?= 1
CC       ?= cc
APXS     ?= apxs
PYTHON   ?= /usr/bin/python3

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -fPIC -Wall -Wextra -Wvla
CFLAGS   += $(if $(filter 0,$(WERROR)),,-Werror)
# Every compile rule reads CFLAGS only: the preprocessor's flags join here.
CFLAGS   += $(CPPFLAGS) -DVM_DATADIR='"$(DATADIR)"'
CFLAGS   += -MMD -MP          # header dependencies, read back below
LDFLAGS  ?=

ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build-sanitize
endif

PKGS     := apr-1 apr-util-1 libcjson libpq libmariadb
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
HTTPD_INC  := $(shell $(APXS) -q INCLUDEDIR 2>/dev/null)

# Components append to these.  TEST_BUILDS: extra targets make test
# builds before running (fuzzers, the sanitizer build).
PROGRAMS    :=
UNIT_TESTS  :=
TEST_BUILDS :=

.PHONY: all deps run test check test-moodle test-unit test-integration install clean bench bench-callgrind fuzz \
        deb format
all:

include core/core.mk
include mod_vmoodle.mk
include $(sort $(filter-out core/core.mk,$(wildcard */*.mk tests/*/*.mk)))
include package.mk

all: $(MODULE) $(PROGRAMS) $(UNIT_TESTS)

# (not from build/deb, where make deb builds a copy of the tree)
-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -name '*.d' \
             -type f -print 2>/dev/null)

deps:
	@tools/install-deps

# Flags above are read when make starts: after installing, build in a
# fresh make so they see the new packages.  make check installs nothing:
# the package test (it installs the .debs on this machine) skips unless
# make test, which installs anyway, runs it (INSTALL_TESTS=1).
test: deps
	@$(MAKE) --no-print-directory check INSTALL_TESTS=1

INSTALL_TESTS ?= 0
check: all $(TEST_BUILDS)
	@VMOODLE_INSTALL_TESTS=$(INSTALL_TESTS) $(PYTHON) tests/run.py \
	    --build $(BUILD) $(UNIT_TESTS)

# The end-to-end suite against real Moodle code: MOODLE_SRC names a Moodle
# tree or tarball (unpacked into a temporary directory, never here).
test-moodle: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tests/run.py --build $(BUILD) --suite moodle --pytest-args=--durations=15

test-unit: all
	@$(PYTHON) tests/run.py --build $(BUILD) --unit-only $(UNIT_TESTS)

# With MOODLE_SRC (a Moodle tree or tarball): real Moodle sites, installed
# into $(BUILD)/moodle-demo on the first start and reused after.
run: deps
	@$(MAKE) --no-print-directory all
	@if [ -n "$(MOODLE_SRC)" ]; then tools/demo-moodle --build $(BUILD) \
	    --moodle-src "$(MOODLE_SRC)"; else tools/demo --build $(BUILD); fi

clean:
	rm -rf build build-sanitize build-fuzz

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -c $< -o $@
