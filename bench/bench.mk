# make bench: routing cost side by side with what an Apache administrator
# would use instead (issue 6).  Reports figures against targets; never part
# of `make test`, never fails on a missed target.
BENCH_LOOKUP := $(BUILD)/bench/lookup_bench

$(BENCH_LOOKUP): bench/lookup_bench.c $(CORE_LIB) $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore $< $(CORE_LIB) $(LDFLAGS) \
	    $(DEP_LIBS) -o $@

# Flags are read when make starts: build in a fresh make after deps.
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_LOOKUP)
	@$(PYTHON) bench/run.py --build $(BUILD)
