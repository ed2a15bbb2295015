# vcron: rotates the instances' Moodle crons (round robin or lowest gap).
VCRON      := $(BUILD)/vcron
VCRON_SRC  := $(wildcard vcron/*.c)
VCRON_OBJ  := $(VCRON_SRC:%.c=$(BUILD)/%.o)
PROGRAMS   += $(VCRON)

$(VCRON_OBJ): $(wildcard vcron/*.h core/*.h)

$(VCRON): $(VCRON_OBJ) $(CORE_LIB)
	$(CC) $(VCRON_OBJ) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) -o $@

# The scheduler's unit test links the scheduler alone: it is pure.
$(BUILD)/tests/test_vcron_sched: tests/unit/test_vcron_sched.c \
		$(BUILD)/vcron/sched.o vcron/sched.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ivcron $< $(BUILD)/vcron/sched.o $(LDFLAGS) \
	    -lcmocka -o $@
