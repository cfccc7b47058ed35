# mk/bench.mk — the peers `make bench` measures uhw against (test/bench.sh), and
# `make bench-kill-demo` (test/bench/kill-demo.sh).
#
# The servers are Debian's own programs (nginx-light, spawn-fcgi, fcgiwrap, h2o, gunicorn);
# the two small C peers are built here, into $(B)/bench/, never committed:
#   h2o-hello   libh2o-evloop answering in-process (the ceiling for anything on h2o)
#   fcgi-hello  a libfcgi FastCGI responder, run two at a time by spawn-fcgi

DEBS_BENCH += curl python3 iproute2 nginx-light spawn-fcgi fcgiwrap libfcgi-dev h2o \
	libh2o-evloop-dev gunicorn python3-flask

BENCH_PEERS := $(B)/bench/h2o-hello $(B)/bench/fcgi-hello

.PHONY: bench-kill-demo
bench: $(BENCH_PEERS)

# Order-only: the headers and libraries must be installed first, but installing them
# again (deps-bench is phony) must not rebuild the peers.
$(BENCH_PEERS): | deps-bench

$(B)/bench/h2o-hello: test/bench/h2o-hello.c
	@mkdir -p $(dir $@)
	$(SAY) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS_ALL) -o $@ $< \
		$(shell $(PKG_CONFIG) --libs libh2o-evloop 2>/dev/null) $(H2O_EXTRA_LIBS)

$(B)/bench/fcgi-hello: test/bench/fcgi-hello.c
	@mkdir -p $(dir $@)
	$(SAY) LINK $@
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS_ALL) -o $@ $< -lfcgi

bench-kill-demo: deps-bench all
	@UHW_BUILD=$(abspath $(B)) bash test/bench/kill-demo.sh
