# vmoodlectl: the administrator's command-line tool.  libcrypto for the
# SHA-256 checksums of template manifests.  Objects go under obj/ because
# $(BUILD)/vmoodlectl is the program itself.
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
