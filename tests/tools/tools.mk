# Test-only tools, built with everything else but never installed.
TEST_TOOLS := $(BUILD)/vmsource $(BUILD)/epoll_shim.so

all: $(TEST_TOOLS)

$(BUILD)/vmsource: $(BUILD)/tests/tools/vmsource.o $(CORE_LIB)
	$(CC) $< $(CORE_LIB) $(LDFLAGS) $(DEP_LIBS) -o $@

# Preloaded into Apache by tests/integration/test_stop_keepalive.py.
$(BUILD)/epoll_shim.so: tests/tools/epoll_shim.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -shared $< -ldl -o $@
