# vmoodlectl: the administrator's command-line tool.  libcrypto for the
# SHA-256 checksums of template manifests.  Objects go under obj/ because
# $(BUILD)/vmoodlectl is the program itself.  It reads vcron.conf too,
# through the core's reader and setting names (vm_conf, vm_settings).
VMOODLECTL      := $(BUILD)/vmoodlectl
VMOODLECTL_SRC  := $(wildcard vmoodlectl/*.c)
VMOODLECTL_OBJ  := $(VMOODLECTL_SRC:%.c=$(BUILD)/obj/%.o)
VMOODLECTL_LIBS := $(shell pkg-config --libs libcrypto 2>/dev/null) -lm

PROGRAMS += $(VMOODLECTL)

$(VMOODLECTL_OBJ): $(BUILD)/obj/%.o: %.c $(wildcard vmoodlectl/*.h core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -c $< -o $@

$(VMOODLECTL): $(VMOODLECTL_OBJ) $(CORE_LIB)
	$(CC) $(VMOODLECTL_OBJ) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    $(VMOODLECTL_LIBS) -o $@

# The rewrite's one-pass replacement of a template's names and the random
# text of a siteidentifier, tested alone.
VMOODLECTL_REWRITE_OBJ := $(addprefix $(BUILD)/obj/vmoodlectl/,rewrite.o db.o util.o)

$(BUILD)/tests/test_vmoodlectl_rewrite: tests/unit/test_vmoodlectl_rewrite.c \
		$(VMOODLECTL_REWRITE_OBJ) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Ivmoodlectl $< \
	    $(VMOODLECTL_REWRITE_OBJ) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    -lcmocka -o $@

# The unit test of trees and sharing links the vmoodlectl objects it tests.
VMC_TREES_OBJ := $(addprefix $(BUILD)/obj/vmoodlectl/,files.o tree_remove.o \
                   shared.o db.o interrupt.o progress.o util.o)

$(BUILD)/tests/test_vmc_trees: tests/unit/test_vmc_trees.c $(VMC_TREES_OBJ) \
		$(CORE_LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Ivmoodlectl -Itests/unit $< \
	    $(VMC_TREES_OBJ) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    $(VMOODLECTL_LIBS) -lcmocka -o $@
# The fleet commands' unit test: site selection (with the table look-up)
# and the summary.
VMOODLECTL_FLEET_TESTED := $(addprefix $(BUILD)/obj/vmoodlectl/, \
    select.o summary.o table.o util.o)
$(BUILD)/tests/test_fleet: tests/unit/test_fleet.c $(VMOODLECTL_FLEET_TESTED) \
		$(CORE_LIB) $(wildcard tests/unit/*.h vmoodlectl/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Ivmoodlectl -Itests/unit $< \
	    $(VMOODLECTL_FLEET_TESTED) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    -lcmocka -o $@
# The step runner's unit test: order, undo, interrupt, plan.
VMOODLECTL_STEPS_TESTED := $(addprefix $(BUILD)/obj/vmoodlectl/, \
    steps.o interrupt.o messages.o)
$(BUILD)/tests/test_steps: tests/unit/test_steps.c $(VMOODLECTL_STEPS_TESTED) \
		$(CORE_LIB) $(wildcard tests/unit/*.h vmoodlectl/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Ivmoodlectl -Itests/unit $< \
	    $(VMOODLECTL_STEPS_TESTED) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    -lcmocka -o $@
# The command and option tables' unit test links every object but main's
# (the table names every handler).
VMOODLECTL_TABLE_TESTED := $(filter-out %/main.o,$(VMOODLECTL_OBJ))
$(BUILD)/tests/test_commands: tests/unit/test_commands.c \
		$(VMOODLECTL_TABLE_TESTED) $(CORE_LIB) \
		$(wildcard tests/unit/*.h vmoodlectl/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Ivmoodlectl -Itests/unit $< \
	    $(VMOODLECTL_TABLE_TESTED) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    $(VMOODLECTL_LIBS) -lcmocka -o $@

# The lifecycle commands' unit test: CSV lines, quota sizes, backup names.
VMOODLECTL_LIFECYCLE_TESTED := $(addprefix $(BUILD)/obj/vmoodlectl/, \
    csv.o quota.o backupdir.o)
$(BUILD)/tests/test_lifecycle: tests/unit/test_lifecycle.c \
		$(VMOODLECTL_LIFECYCLE_TESTED) $(CORE_LIB) \
		$(wildcard tests/unit/*.h vmoodlectl/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Ivmoodlectl -Itests/unit $< \
	    $(VMOODLECTL_LIFECYCLE_TESTED) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    -lcmocka -o $@
