# Test-only tools, built with everything else but never installed.
TEST_TOOLS := $(BUILD)/vmsource

all: $(TEST_TOOLS)

$(BUILD)/vmsource: $(BUILD)/tests/tools/vmsource.o $(CORE_LIB)
	$(CC) $< $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) -o $@
