# uhw — build, test, run. See README.md.
#
#   make               build build/uhw, build/libuhw.a, build/workers/*
#   make run           build, then serve contrib/pools.yaml in the foreground (LISTEN=127.0.0.1:9090: there)
#   make test          unit tests (cmocka) + end-to-end tests (bats), then the unit tests again built
#                      by clang with ASan/UBSan; SANITIZE=1 for ASan/UBSan (CC=clang: with clang)
#   make bench         wrk against the example pools (loopback, bounded in time)
#   make chaos         SIGKILL random workers under wrk load (CHAOS_DURATION=60 s), check invariants
#   make sim           the core's deterministic simulation, STEPS=N random steps (UHW_SIM_SEED=S replays a run)
#   make deps          install missing Debian packages (or print the command when not root)
#   make install PREFIX=/usr/local   (DESTDIR=/staging too; make uninstall undoes it: mk/install.mk)

SANITIZE ?= 0
CC ?= cc
# gcc and clang objects never share a directory: a clang build goes to build/clang (SANITIZE=1:
# build/clang-asan), whatever name CC has (cc, clang-14, ccache clang).
CC_CLANG := $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n 1)),1)
ifeq ($(SANITIZE),1)
B := build/$(if $(CC_CLANG),clang-asan,asan)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B := build$(if $(CC_CLANG),/clang)
SAN_FLAGS :=
endif
# `make V=1` shows full command lines.
V ?= 0
ifeq ($(V),1)
Q :=
SAY := @true
else
Q := @
SAY := @printf '  %-6s %s\n'
endif
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
# Packages the build needs (pkg-config names) and the libraries h2o needs beside itself.
PKGS := libh2o-evloop libprotobuf-c yaml-0.1 jansson libsystemd
H2O_EXTRA_LIBS := -lssl -lcrypto -lpthread

OPT ?= -O2
CFLAGS_COMMON := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	-DH2O_USE_LIBUV=0 -D_GNU_SOURCE -I$(B)/gen -Iproto -Isupervisor -Iworkers -Icmd $(SAN_FLAGS)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(CFLAGS_COMMON) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN_FLAGS) $(LDFLAGS)

# Debian packages, by what needs them: building and running (`make run`), the test suite
# (`make test`, `make deps`), and the peers `make bench` compares against. Fragments in mk/
# add to these lists (DEBS_TEST += ...).
DEBS_BUILD := make gcc libc6-dev pkg-config libh2o-evloop-dev libssl-dev \
	libprotobuf-c-dev protobuf-c-compiler libyaml-dev libjansson-dev libsystemd-dev
DEBS_TEST := libcmocka-dev bats bats-assert bats-support curl procps python3 python3-protobuf \
	protobuf-compiler chromium openssl prometheus wrk strace python3-h2 python3-yaml
DEBS_BENCH := wrk

PROTO_C := $(B)/gen/uhw.pb-c.c
PROTO_H := $(B)/gen/uhw.pb-c.h

SUP_SRCS := $(wildcard supervisor/*.c)
CMD_SRCS := $(wildcard cmd/*.c)
# Objects shared by uhw and the unit tests.
CORE_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(SUP_SRCS) proto/frame.c proto/rules.c) $(B)/obj/gen/uhw.pb-c.o
UHW_OBJS := $(CORE_OBJS) $(patsubst %.c,$(B)/obj/%.o,$(CMD_SRCS)) $(B)/obj/workers/libuhw.o
LIBUHW_OBJS := $(B)/obj/workers/libuhw.o $(B)/obj/proto/frame.o $(B)/obj/proto/rules.o $(B)/obj/gen/uhw.pb-c.o
EXAMPLES := $(patsubst workers/examples/%.c,$(B)/workers/%,$(wildcard workers/examples/*.c))
UNIT_SRCS := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(patsubst test/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
# Workers that misbehave on purpose, for the end-to-end tests.
FIXTURES := $(patsubst test/fixtures/%.c,$(B)/tests/fixtures/%,$(wildcard test/fixtures/*.c))

.PHONY: all deps deps-run deps-bench run test unit e2e sim bench chaos install clean
# Keep intermediate objects (pattern chains would delete them and rebuild every time).
.SECONDARY:
.DEFAULT_GOAL := all

all: $(B)/uhw $(B)/libuhw.a $(EXAMPLES)

# One run makes both files: a grouped target, so a parallel build runs protoc-c once.
$(PROTO_C) $(PROTO_H) &: proto/uhw.proto
	@mkdir -p $(B)/gen
	$(SAY) PROTOC $<
	$(Q)protoc-c --c_out=$(B)/gen -Iproto proto/uhw.proto

$(B)/obj/gen/uhw.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(SAY) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -c $< -o $@

# Every object waits for the generated header; -MMD tracks the rest.
$(B)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	$(SAY) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/uhw: $(UHW_OBJS)
	$(SAY) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(H2O_EXTRA_LIBS) -lm

$(B)/libuhw.a: $(LIBUHW_OBJS)
	@rm -f $@
	$(SAY) AR $@
	$(Q)ar rcs $@ $^

$(B)/workers/%: $(B)/obj/workers/examples/%.o $(B)/libuhw.a
	@mkdir -p $(dir $@)
	$(SAY) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(B)/libuhw.a $(shell $(PKG_CONFIG) --libs libprotobuf-c jansson 2>/dev/null) -lm

$(B)/tests/fixtures/%: $(B)/obj/test/fixtures/%.o $(B)/obj/proto/frame.o $(B)/obj/gen/uhw.pb-c.o
	@mkdir -p $(dir $@)
	$(SAY) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(shell $(PKG_CONFIG) --libs libprotobuf-c 2>/dev/null)

# Each unit test links only the modules it tests, so one module can be tested while
# another is half-written. List them here: UNIT_DEPS_test_NAME := objects under $(B)/obj.
UNIT_DEPS_test_frame := proto/frame.o gen/uhw.pb-c.o
UNIT_DEPS_test_config := $(patsubst %.c,%.o,$(wildcard supervisor/config*.c))
# test_helpers and the other shell-worker tests: mk/sh.mk
UNIT_DEPS_test_libuhw := workers/libuhw.o proto/frame.o proto/rules.o gen/uhw.pb-c.o
UNIT_DEPS_test_policy := supervisor/policy.o
UNIT_DEPS_test_timer := supervisor/timer.o
# the simulation drives the real core: every module between the front end and the processes
UNIT_DEPS_test_sim := $(patsubst %,supervisor/%.o,dispatch pool worker policy timer victims log sink reply proc reaper) \
	$(patsubst %.c,%.o,$(wildcard supervisor/config*.c)) proto/frame.o proto/rules.o gen/uhw.pb-c.o
# metrics.c asks pools for their numbers: the supervisor's objects (h2o's libraries are linked anyway).
UNIT_DEPS_test_metrics := $(patsubst %.c,%.o,$(SUP_SRCS)) proto/frame.o proto/rules.o gen/uhw.pb-c.o

.SECONDEXPANSION:
$(B)/tests/%: $(B)/obj/test/unit/%.o $$(addprefix $(B)/obj/,$$(UNIT_DEPS_$$*))
	@mkdir -p $(dir $@)
	$(SAY) LINK $@
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(H2O_EXTRA_LIBS) $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null) -lm

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- dependencies

# Install the missing Debian packages when root, else print the command to run.
deps-run:
	@UHW_DEBS="$(DEBS_BUILD)" sh test/deps.sh
deps: deps-run
	@UHW_DEBS="$(DEBS_TEST)" sh test/deps.sh
deps-bench: deps-run
	@UHW_DEBS="$(DEBS_BENCH)" sh test/deps.sh

# ---------------------------------------------------------------- run, test, bench

run: deps-run all
	$(B)/uhw serve $(addprefix --listen ,$(LISTEN)) contrib/pools.yaml

# `make test` also runs the unit tests built by clang with ASan and UBSan (build/clang-asan), once:
# clang warns about and checks what gcc does not (UBSan: "applying zero offset to null pointer").
# CLANG_TEST=0 leaves it out; `make test CC=clang SANITIZE=1` runs the whole suite built that way.
CLANG_TEST ?= 1
CLANG_B := build/clang-asan
ifeq ($(CLANG_TEST)$(SANITIZE)$(CC_CLANG),10)
TEST_ALSO := $(CLANG_B)
endif

test: deps all $(UNIT_BINS) $(FIXTURES) $(if $(TEST_ALSO),unit-clang-build)
	@UHW_BUILD=$(abspath $(B)) UHW_UNIT_ALSO="$(if $(TEST_ALSO),$(abspath $(TEST_ALSO)))" SANITIZE=$(SANITIZE) \
		bash test/run.sh

# The unit tests of the clang build; `unit-bins`: the unit tests of this build, not run.
.PHONY: unit-bins unit-clang-build
unit-bins: $(UNIT_BINS)
unit-clang-build: deps
	@$(MAKE) --no-print-directory CC=clang SANITIZE=1 unit-bins

# Subsets, for quick iteration: `make unit`, `make e2e T=test/e2e/serve.bats`.
unit: all $(UNIT_BINS)
	@UHW_BUILD=$(abspath $(B)) UHW_ONLY=unit bash test/run.sh
e2e: all $(FIXTURES)
	@UHW_BUILD=$(abspath $(B)) UHW_ONLY=e2e UHW_BATS="$(T)" bash test/run.sh

bench: deps-bench all
	@UHW_BUILD=$(abspath $(B)) bash test/bench.sh

# The deterministic simulation of the core (test/unit/test_sim.c; `make test` runs 200,000 steps).
STEPS ?= 1000000
sim: $(B)/tests/test_sim
	@UHW_SIM_STEPS=$(STEPS) LSAN_OPTIONS=suppressions=$(abspath test/lsan.supp) $(B)/tests/test_sim

CHAOS_DURATION ?= 60
chaos: deps-bench all
	@UHW_BUILD=$(abspath $(B)) bash test/chaos.sh $(CHAOS_DURATION)

# install, uninstall (PREFIX, DESTDIR): mk/install.mk
install: all

clean:
	rm -rf build

# One fragment per component outside the core (SDKs, bench peers, docs): each adds its own
# targets, may add prerequisites to `all` and `install`, and appends to DEBS_TEST/DEBS_BENCH.
# Test suites other than cmocka and bats are scripts test/suites/NAME.sh that print TAP.
-include $(sort $(wildcard mk/*.mk))
