# The Apache glue at the top level (mod_vmoodle*.c): mod_vmoodle.so,
# built against the core.
MODULE     := $(BUILD)/mod_vmoodle.so
MODULE_SRC := $(wildcard mod_vmoodle*.c)
MODULE_OBJ := $(MODULE_SRC:%.c=$(BUILD)/%.o)

$(MODULE_OBJ): CFLAGS += -I$(HTTPD_INC)
$(MODULE_OBJ): $(wildcard mod_vmoodle*.h core/*.h)

$(MODULE): $(MODULE_OBJ) $(CORE_LIB)
	$(CC) -shared $(MODULE_OBJ) $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) -o $@
