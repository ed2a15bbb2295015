# make test also builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer into build-sanitize/, where
# tests/integration/test_sanitizers.py runs the unit tests and the
# programs; make test SANITIZE=1 runs the whole suite against that build.

.PHONY: sanitize-build
ifneq ($(SANITIZE),1)
TEST_BUILDS += sanitize-build
endif

sanitize-build:
	@$(MAKE) --no-print-directory SANITIZE=1 all
