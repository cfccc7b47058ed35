# libFuzzer targets, built with clang (-fsanitize=fuzzer,address,undefined) into build/fuzz:
#
#   test/fuzz/fuzz_NAME.c       the target (LLVMFuzzerTestOneInput)
#   test/fuzz/corpus/NAME/      its seed corpus (read only; new inputs go to build/fuzz/corpus/NAME)
#   test/fuzz/NAME.dict         an optional dictionary
#   FUZZ_DEPS_NAME := ...       the objects it links, as paths under the object directory
#                               (cmd/reqvars.o, proto/frame.o, gen/uhw.pb-c.o ...)
#
#   make fuzz                   builds every target and runs each for FUZZ_SECONDS (60)
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS=recv
# A crash, leak or sanitizer report fails the run; the input is kept in build/fuzz/artifacts/.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_B := build/fuzz
FUZZ_NAMES := $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I$(FUZZ_B)/gen -Iproto -Isupervisor -Icmd -Iworkers \
	-fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	$(shell $(PKG_CONFIG) --cflags libprotobuf-c jansson yaml-0.1 2>/dev/null)
FUZZ_LIBS = $(shell $(PKG_CONFIG) --libs libprotobuf-c jansson yaml-0.1 2>/dev/null)

FUZZ_DEPS_recv := cmd/recv_print.o cmd/reqvars.o cmd/shquote.o proto/frame.o gen/uhw.pb-c.o
FUZZ_DEPS_fields := cmd/fields.o cmd/reqvars.o cmd/shquote.o proto/frame.o gen/uhw.pb-c.o
FUZZ_DEPS_frame := proto/frame.o gen/uhw.pb-c.o
FUZZ_DEPS_libuhw := workers/libuhw.o proto/frame.o proto/rules.o gen/uhw.pb-c.o

.PHONY: fuzz fuzz-build
fuzz-build: $(addprefix $(FUZZ_B)/fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@mkdir -p $(FUZZ_B)/artifacts
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_B)/corpus/$$t; \
		dict=; [ ! -f test/fuzz/$$t.dict ] || dict=-dict=test/fuzz/$$t.dict; \
		echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
		$(FUZZ_B)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
			-artifact_prefix=$(FUZZ_B)/artifacts/$$t- $(FUZZ_B)/corpus/$$t test/fuzz/corpus/$$t \
			2>$(FUZZ_B)/$$t.log || { tail -40 $(FUZZ_B)/$$t.log; echo "fuzz $$t: FAILED (log: $(FUZZ_B)/$$t.log)"; exit 1; }; \
		grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^#[0-9]+.*DONE' $(FUZZ_B)/$$t.log | tr '\n' ' '; echo; \
	done

$(FUZZ_B)/gen/uhw.pb-c.c $(FUZZ_B)/gen/uhw.pb-c.h: proto/uhw.proto
	@mkdir -p $(FUZZ_B)/gen
	$(Q)protoc-c --c_out=$(FUZZ_B)/gen -Iproto proto/uhw.proto

$(FUZZ_B)/obj/gen/uhw.pb-c.o: $(FUZZ_B)/gen/uhw.pb-c.c
	@mkdir -p $(dir $@)
	$(SAY) FUZZCC $<
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-unused-parameter -c $< -o $@

$(FUZZ_B)/obj/%.o: %.c $(FUZZ_B)/gen/uhw.pb-c.h
	@mkdir -p $(dir $@)
	$(SAY) FUZZCC $<
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# The target itself gets -fsanitize=fuzzer (libFuzzer's main and coverage); its deps only coverage.
$(FUZZ_B)/fuzz_%: test/fuzz/fuzz_%.c $$(addprefix $(FUZZ_B)/obj/,$$(FUZZ_DEPS_$$*)) $(FUZZ_B)/gen/uhw.pb-c.h
	$(SAY) FUZZLD $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(addprefix $(FUZZ_B)/obj/,$(FUZZ_DEPS_$*)) $(FUZZ_LIBS)

-include $(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null)
DEBS_TEST += clang libclang-rt-14-dev
