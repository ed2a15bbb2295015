# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c) against the core compiled
# with clang, AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   make fuzz                  run each harness FUZZ_SECONDS (default 60)
#   make fuzz-build            build them into build-fuzz/
#
# Seeds: tests/fuzz/corpus/<name>/ (read only); what a run discovers goes
# to build-fuzz/corpus/<name>/, crashes to build-fuzz/crash-<name>-*.

FUZZ_CC      ?= clang
FUZZ_BUILD   := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
                -fno-omit-frame-pointer $(FUZZ_SAN) $(DEP_CFLAGS) -Icore
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out \
                  tests/fuzz/fuzz_util.c,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZERS      := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_CORE    := $(CORE_SRC:%.c=$(FUZZ_BUILD)/%.o)

TEST_BUILDS  += fuzz-build

.PHONY: fuzz-build
fuzz-build: $(FUZZERS)

$(FUZZ_BUILD)/core/%.o: core/%.c $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.c \
                      tests/fuzz/fuzz_util.h $(FUZZ_CORE)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< tests/fuzz/fuzz_util.c \
	    $(FUZZ_CORE) $(DEP_LIBS) -o $@

fuzz: $(FUZZERS)
	@$(PYTHON) tests/fuzz/run_fuzzers.py --build $(FUZZ_BUILD) \
	    --seconds $(FUZZ_SECONDS) $(FUZZ_NAMES)
