# vmoodlectl: the administrator's command-line tool.  libcrypto for the
# SHA-256 checksums of template manifests.
VMOODLECTL     := $(BUILD)/vmoodlectl
VMOODLECTL_SRC := $(wildcard vmoodlectl/*.c)
VMOODLECTL_OBJ := $(VMOODLECTL_SRC:%.c=$(BUILD)/%.o)
VMOODLECTL_LIBS := $(shell pkg-config --libs libcrypto 2>/dev/null)

PROGRAMS += $(VMOODLECTL)

$(VMOODLECTL_OBJ): $(wildcard vmoodlectl/*.h core/*.h)

$(VMOODLECTL): $(VMOODLECTL_OBJ) $(CORE_LIB)
	$(CC) $(VMOODLECTL_OBJ) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) \
	    $(VMOODLECTL_LIBS) -o $@
