# mod_vmoodle: an Apache module, its httpd-free core, vcron and vmoodlectl.
#
#   make            build everything into build/
#   make run        install what is missing, build, start the demo
#   make test       install what is missing, build, run every test
#   make test-moodle MOODLE_SRC=moodle.tar.xz   the suite against real Moodle
#   make install    install the module (apxs), tools and templates
#
# The module's rules are in mod_vmoodle.mk; each other component adds its
# own in its folder's *.mk file.

BUILD    ?= build
PREFIX   ?= /usr/local
DATADIR  ?= $(PREFIX)/share/vmoodle
CC       ?= cc
APXS     ?= apxs
PYTHON   ?= /usr/bin/python3

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE -fPIC -Wall -Wextra -Werror
CFLAGS   += -DVM_DATADIR='"$(DATADIR)"'
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

.PHONY: all deps run test test-moodle test-unit test-integration install clean bench fuzz
all:

include core/core.mk
include mod_vmoodle.mk
include $(sort $(filter-out core/core.mk,$(wildcard */*.mk tests/*/*.mk)))

all: $(MODULE) $(PROGRAMS) $(UNIT_TESTS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

deps:
	@tools/install-deps

# Flags above are read when make starts: after installing, build in a
# fresh make so they see the new packages.
test: deps
	@$(MAKE) --no-print-directory all $(TEST_BUILDS)
	@$(PYTHON) tests/run.py --build $(BUILD) $(UNIT_TESTS)

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
