# make bench: routing cost side by side with what an Apache administrator
# would use instead (issue 6).  Reports figures against targets; never part
# of `make test`, never fails on a missed target.
BENCH_LOOKUP := $(BUILD)/bench/lookup_bench

$(BENCH_LOOKUP): bench/lookup_bench.c $(CORE_LIB) $(wildcard core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore $< $(CORE_LIB) $(LDFLAGS) \
	    $(DEP_LIBS) -o $@

# vcron's tiers at 5,000 sites, simulated with the real scheduler.
BENCH_CRON_SIM := $(BUILD)/bench/cron_sim

$(BENCH_CRON_SIM): bench/cron_sim.c $(BUILD)/vcron-obj/tiers.o \
		$(BUILD)/vcron-obj/sched.o vcron/tiers.h vcron/sched.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Ivcron $< $(BUILD)/vcron-obj/tiers.o \
	    $(BUILD)/vcron-obj/sched.o $(LDFLAGS) $(DEP_LIBS) -o $@

# Flags are read when make starts: build in a fresh make after deps.
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_LOOKUP) $(BENCH_CRON_SIM)
	@$(PYTHON) bench/run.py --build $(BUILD)

# The instruction counts alone (callgrind, about 10 minutes): routing's
# cost per kind of request and the counters', into their RESULTS.md section.
bench-callgrind: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) bench/callgrind.py --build $(BUILD)
