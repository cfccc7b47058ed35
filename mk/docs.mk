# Man pages: doc/NAME.SECTION.scd, written in scdoc(5), built into $(B)/man/NAME.SECTION
# (never committed) by `make`, installed by `make install` (mk/install.mk):
#
#   uhw(1)            the command line: every verb and option, signals, exit status, environment
#   uhw.yaml(5)       the configuration file: every key, default and unit
#   uhw-protocol(7)   the wire protocol, for people writing worker SDKs
#
# `man -l build/man/uhw.1` reads one before it is installed. Without scdoc, `make` skips them
# with a notice (`make deps-run` installs it) and `make install` fails. test/e2e/docs.bats
# checks that each renders without a groff warning.
#
# The shell completion (contrib/completion/uhw.bash, contrib/completion/_uhw) needs no build.

MAN_SRCS := $(sort $(wildcard doc/*.scd))
MAN_PAGES := $(patsubst doc/%.scd,$(B)/man/%,$(MAN_SRCS))
UHW_VERSION_STRING = $(shell sed -n 's/^\#define UHW_VERSION "\(.*\)"/\1/p' supervisor/version.h)

DEBS_BUILD += scdoc
# The tests render the pages with man-db (groff) and drive both completions.
DEBS_TEST += man-db groff-base bash-completion zsh

.PHONY: man
all: man
man:
	@if command -v scdoc >/dev/null 2>&1; then $(MAKE) -s --no-print-directory $(MAN_PAGES); \
	else echo "uhw: scdoc not found: skipping the man pages (make deps-run installs it)" >&2; fi

# The version goes in the page footer; the date is the build's (scdoc honours SOURCE_DATE_EPOCH).
$(B)/man/%: doc/%.scd supervisor/version.h
	@mkdir -p $(dir $@)
	$(SAY) SCDOC $@
	$(Q)sed 's/@VERSION@/$(UHW_VERSION_STRING)/' $< | scdoc >$@.tmp && mv $@.tmp $@
