# Installing, packaging and the code style.
#
# make install puts nothing outside $(DESTDIR): the module goes where apxs
# says modules live (apxs -i would ignore DESTDIR), the programs into
# $(BINDIR), the templates into $(DATADIR), the manual pages into $(MANDIR).
# make deb builds the Debian packages in a copy of the tree (build/deb/src),
# so the tree itself stays clean; the .deb files land in build/deb/.

VERSION   := $(shell sed -n 's/^\#define VMOODLE_VERSION "\(.*\)"/\1/p' \
                 core/vm_version.h)
MODULEDIR ?= $(shell $(APXS) -q LIBEXECDIR 2>/dev/null)
MANPAGES  := $(patsubst man/%.in,$(BUILD)/man/%,$(wildcard man/*.8.in))
C_FILES    = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

# What the packages ship: the module and the programs, no tests.
.PHONY: programs version man
programs: $(MODULE) $(PROGRAMS)

# Manual pages carry the programs' own --help (tools/gen-man).
man: $(MANPAGES)
all: $(MANPAGES)

$(BUILD)/man/%.8: man/%.8.in $(BUILD)/% tools/gen-man
	@mkdir -p $(dir $@)
	tools/gen-man $(BUILD)/$* $< $@

version:
	@echo $(VERSION)

install: programs man
	@test -n "$(MODULEDIR)" || { echo "install: no module directory" \
	    "(apxs -q LIBEXECDIR failed; set MODULEDIR)" >&2; exit 1; }
	install -d $(DESTDIR)$(MODULEDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(MODULE) $(DESTDIR)$(MODULEDIR)/mod_vmoodle.so
	install -m 755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	cp -R --no-preserve=ownership templates/. $(DESTDIR)$(DATADIR)/
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man8/

deb:
	@tools/make-deb $(BUILD)/deb

format:
	clang-format -i $(C_FILES)
