# make install / make uninstall, with PREFIX (default /usr/local) and DESTDIR (a staging
# root, for packages and tests: everything lands under $(DESTDIR)$(PREFIX), and the installed
# files name $(PREFIX) only).
#
#   $(PREFIX)/bin/uhw                                  the server and CLI
#   $(PREFIX)/lib/libuhw.a, include/libuhw.h,          the C SDK:
#     lib/pkgconfig/libuhw.pc                          cc hello.c $(pkg-config --cflags --libs libuhw)
#   $(PREFIX)/share/uhw/uhw.proto                      the protocol, for other languages
#   $(PREFIX)/share/man/man{1,5,7}/...                 uhw(1), uhw.yaml(5), uhw-protocol(7) (mk/docs.mk)
#   $(PREFIX)/share/bash-completion/completions/uhw    bash completion (loaded on demand)
#   $(PREFIX)/share/zsh/site-functions/_uhw            zsh completion
#   $(SYSTEMD_UNIT_DIR)/uhw.service                    the systemd unit, its ExecStart naming $(PREFIX)/bin/uhw
# and, from their own fragments: $(PREFIX)/lib/uhw/sh/{uhw,uhw.sh} (mk/sh.mk),
# $(PREFIX)/lib/uhw/python/uhw/*.py and $(PREFIX)/bin/uhw-wsgi (mk/python.mk),
# $(PREFIX)/lib/uhw/node/uhw-worker/ (mk/node.mk, when npm is installed).
#
# `make uninstall` removes each of these (the same PREFIX and DESTDIR), then the directories
# that are uhw's alone ($(PREFIX)/lib/uhw, $(PREFIX)/share/uhw) if they are empty; shared
# directories (bin, lib, share/man/man1 ...) stay. test/e2e/install.bats checks both.

SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
MAN_DIR := $(PREFIX)/share/man
BASH_COMPLETION_DIR := $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR := $(PREFIX)/share/zsh/site-functions

# Files generated for one PREFIX: rebuilt whenever PREFIX changes (.prefix records the last).
$(B)/install/.prefix: FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(PREFIX)" ] || echo "$(PREFIX)" >$@
.PHONY: FORCE
FORCE:

$(B)/install/libuhw.pc: workers/libuhw.pc.in supervisor/version.h $(B)/install/.prefix
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(UHW_VERSION_STRING)|g' $< >$@

# contrib/uhw.service names /usr/local/bin/uhw, as `make install` lays it out by default.
$(B)/install/uhw.service: contrib/uhw.service $(B)/install/.prefix
	$(Q)sed '/^Exec/s|/usr/local/bin/uhw|$(PREFIX)/bin/uhw|g' $< >$@

.PHONY: install-core install-man install-completion install-systemd uninstall
install: install-core install-man install-completion install-systemd

install-core: all $(B)/install/libuhw.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/uhw
	install -m 0755 $(B)/uhw $(DESTDIR)$(PREFIX)/bin/uhw
	install -m 0644 $(B)/libuhw.a $(DESTDIR)$(PREFIX)/lib/libuhw.a
	install -m 0644 $(B)/install/libuhw.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/libuhw.pc
	install -m 0644 workers/libuhw.h $(DESTDIR)$(PREFIX)/include/libuhw.h
	install -m 0644 proto/uhw.proto $(DESTDIR)$(PREFIX)/share/uhw/uhw.proto

# Needs scdoc (unlike `make`, which skips the pages without it).
install-man: $(MAN_PAGES)
	@set -e; for page in $(MAN_PAGES); do \
		section=$${page##*.}; \
		echo "install -m 0644 $$page $(DESTDIR)$(MAN_DIR)/man$$section/"; \
		install -d $(DESTDIR)$(MAN_DIR)/man$$section; \
		install -m 0644 $$page $(DESTDIR)$(MAN_DIR)/man$$section/; \
	done

install-completion:
	install -d $(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(ZSH_COMPLETION_DIR)
	install -m 0644 contrib/completion/uhw.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/uhw
	install -m 0644 contrib/completion/_uhw $(DESTDIR)$(ZSH_COMPLETION_DIR)/_uhw

install-systemd: $(B)/install/uhw.service
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0644 $(B)/install/uhw.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/uhw.service

# Every file the install rules above and in mk/sh.mk, mk/python.mk, mk/node.mk put; the Python
# modules by the names the build has (the same glob install-python copies).
UNINSTALL_FILES = $(PREFIX)/bin/uhw $(PREFIX)/lib/libuhw.a $(PREFIX)/lib/pkgconfig/libuhw.pc \
	$(PREFIX)/include/libuhw.h $(PREFIX)/share/uhw/uhw.proto \
	$(foreach p,$(MAN_SRCS:doc/%.scd=%),$(MAN_DIR)/man$(subst .,,$(suffix $(p)))/$(p)) \
	$(BASH_COMPLETION_DIR)/uhw $(ZSH_COMPLETION_DIR)/_uhw $(SYSTEMD_UNIT_DIR)/uhw.service \
	$(PREFIX)/lib/uhw/sh/uhw $(PREFIX)/lib/uhw/sh/uhw.sh \
	$(PREFIX)/bin/uhw-wsgi $(patsubst contrib/python/uhw/%,$(PREFIX)/lib/uhw/python/uhw/%,$(PY_SRCS)) \
	$(PREFIX)/lib/uhw/python/uhw/uhw_pb2.py

uninstall:
	rm -f $(addprefix $(DESTDIR),$(UNINSTALL_FILES))
	rm -rf $(DESTDIR)$(PREFIX)/lib/uhw/node/uhw-worker
	@# Python leaves bytecode caches next to modules it imported from there.
	rm -rf $(DESTDIR)$(PREFIX)/lib/uhw/python/uhw/__pycache__
	@for d in lib/uhw/sh lib/uhw/python/uhw lib/uhw/python lib/uhw/node lib/uhw share/uhw; do \
		[ ! -d $(DESTDIR)$(PREFIX)/$$d ] || rmdir $(DESTDIR)$(PREFIX)/$$d 2>/dev/null || \
		echo "uhw: $(DESTDIR)$(PREFIX)/$$d is not empty: left in place" >&2; \
	done
