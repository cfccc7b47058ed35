# Shell workers (see cmd/helpers.h): the worker-side helper verbs, linked into build/uhw (they
# are cmd/*.c) and into the lean build/sh/uhw; the bash library build/sh/uhw.sh.
#
# uhw puts DIR/sh first on its workers' PATH (DIR: the directory of the running uhw; once
# installed, DIR/../lib/uhw/sh), so `uhw recv` in a worker runs the lean binary, which links
# only libc, libprotobuf-c and libjansson, and `. uhw.sh` finds the library.

SH_HELPER_OBJS := $(patsubst %.c,%.o,cmd/helpers.c cmd/helper_args.c cmd/helper_send.c cmd/helper_recv.c \
	cmd/recv_print.c cmd/reqvars.c cmd/shquote.c cmd/workdir.c cmd/json.c \
	cmd/fields.c cmd/coproc.c) proto/frame.o proto/rules.o gen/uhw.pb-c.o
SH_LIBS = $(shell $(PKG_CONFIG) --libs libprotobuf-c jansson 2>/dev/null)

UNIT_DEPS_test_helpers := $(SH_HELPER_OBJS)
UNIT_DEPS_test_shquote := cmd/shquote.o proto/frame.o


# The lean `uhw` of shell workers: helper verbs only; other verbs exec the full uhw.
SH_BIN := $(B)/sh/uhw

$(SH_BIN): $(B)/obj/cmd/sh/main.o $(addprefix $(B)/obj/,$(SH_HELPER_OBJS))
	@mkdir -p $(dir $@)
	$(SAY) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(SH_LIBS)

# The bash library, beside the lean binary: `. uhw.sh` finds it on the workers' PATH.
SH_LIB := $(B)/sh/uhw.sh

$(SH_LIB): cmd/sh/uhw.sh
	@mkdir -p $(dir $@)
	$(Q)install -m 0644 $< $@

all: $(SH_BIN) $(SH_LIB)

.PHONY: install-sh
install: install-sh
install-sh: $(SH_BIN) $(SH_LIB)
	install -d $(DESTDIR)$(PREFIX)/lib/uhw/sh
	install -m 0755 $(SH_BIN) $(DESTDIR)$(PREFIX)/lib/uhw/sh/uhw
	install -m 0644 $(SH_LIB) $(DESTDIR)$(PREFIX)/lib/uhw/sh/uhw.sh
UNIT_DEPS_test_workdir := cmd/workdir.o
UNIT_DEPS_test_reqvars := cmd/reqvars.o cmd/shquote.o proto/frame.o gen/uhw.pb-c.o
UNIT_DEPS_test_json := $(SH_HELPER_OBJS)
UNIT_DEPS_test_fields := cmd/fields.o cmd/reqvars.o proto/frame.o gen/uhw.pb-c.o
UNIT_DEPS_test_coproc := $(SH_HELPER_OBJS)
