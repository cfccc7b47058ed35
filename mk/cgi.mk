# mk/cgi.mk — `uhw cgi` (cmd/cgi*.c) and `uhw replay` (cmd/replay.c, cmd/victim_record.c).
# Both are verbs of build/uhw (cmd/*.c is linked in already); this fragment adds their
# unit tests and the packages their end-to-end tests need.

# Unit tests of the pure parts: header block, environment, path mapping, victims records.
UNIT_DEPS_test_cgi_head := cmd/cgi_head.o proto/rules.o
UNIT_DEPS_test_cgi_env := cmd/cgi_env.o
UNIT_DEPS_test_cgi_map := cmd/cgi_map.o
UNIT_DEPS_test_victim_record := cmd/victim_record.o cmd/replay_exec.o supervisor/proc.o proto/frame.o gen/uhw.pb-c.o

# test/e2e/cgi.bats runs PHP scripts under php-cgi.
DEBS_TEST += php-cgi
