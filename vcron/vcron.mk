# vcron: rotates the instances' Moodle crons (round robin or lowest gap).
# The program is $(BUILD)/vcron, so its objects live in $(BUILD)/vcron-obj
# rather than the default $(BUILD)/vcron/.
VCRON      := $(BUILD)/vcron
VCRON_OBJD := $(BUILD)/vcron-obj
VCRON_SRC  := $(wildcard vcron/*.c)
VCRON_OBJ  := $(VCRON_SRC:vcron/%.c=$(VCRON_OBJD)/%.o)
PROGRAMS   += $(VCRON)

$(VCRON_OBJD)/%.o: vcron/%.c $(wildcard vcron/*.h core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -c $< -o $@

# A site's database is opened the way vmoodlectl opens it (mode activity).
VCRON_VMC  := $(BUILD)/obj/vmoodlectl/db.o

$(VCRON): $(VCRON_OBJ) $(VCRON_VMC) $(CORE_LIB)
	$(CC) $(VCRON_OBJ) $(VCRON_VMC) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) -o $@

# The scheduler's unit test links the scheduler alone: it is pure.
$(BUILD)/tests/test_vcron_sched: tests/unit/test_vcron_sched.c \
		$(VCRON_OBJD)/sched.o vcron/sched.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ivcron $< $(VCRON_OBJD)/sched.o $(LDFLAGS) \
	    -lcmocka -o $@

# Tiers, the fast path and capacity: pure too, with APR for working space.
$(BUILD)/tests/test_vcron_tiers: tests/unit/test_vcron_tiers.c \
		$(VCRON_OBJD)/tiers.o $(VCRON_OBJD)/sched.o vcron/tiers.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Ivcron $< $(VCRON_OBJD)/tiers.o \
	    $(VCRON_OBJD)/sched.o $(LDFLAGS) $(DEP_LIBS) -lcmocka -o $@
