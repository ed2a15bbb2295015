# The httpd-free core, linked into the module, vcron and vmoodlectl.
CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
CORE_LIB := $(BUILD)/libvmcore.a

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CORE_OBJ): $(wildcard core/*.h)

# Unit tests: tests/unit/test_<name>.c, each a cmocka program.
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_TESTS += $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -Icore -Itests/unit $< $(CORE_LIB) \
	    $(LDFLAGS) $(DEP_LIBS) -lcmocka -o $@
