# The config module (supervisor/config*.c) as one unit: what its fuzz target links.
# mk/fuzz.mk builds test/fuzz/fuzz_config.c with these objects, the corpus
# test/fuzz/corpus/config/ and the dictionary test/fuzz/config.dict.
FUZZ_DEPS_config := $(patsubst %.c,%.o,$(sort $(wildcard supervisor/config*.c)))
