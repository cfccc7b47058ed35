# mk/cli.mk — the operator's verbs of build/uhw (cmd/ctl*.c, ps*.c, tail.c, reload.c; cmd/*.c
# is linked in already): unit tests of their pure parts. Their end-to-end tests are
# test/e2e/cli.bats, which runs `uhw ps` on a terminal with script(1) (bsdutils).

UNIT_DEPS_test_ps_table := cmd/ps_table.o cmd/table.o
UNIT_DEPS_test_suggest := cmd/suggest.o
DEBS_TEST += bsdutils
