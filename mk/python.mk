# Python SDK (contrib/python): the package `uhw` -- handler API and WSGI adapter -- built
# into $(B)/python/uhw with its uhw_pb2.py generated from proto/uhw.proto (never committed).
# uhw puts $(B)/python (installed: $(PREFIX)/lib/uhw/python) first on workers' PYTHONPATH,
# so `command: [python3, -m, uhw.wsgi, app:app]` needs no setup. $(B)/uhw-wsgi is the same
# as a command. `pip install ./contrib/python` is the other way in (contrib/python/setup.py).

PY_SRCS := $(wildcard contrib/python/uhw/*.py)
PY_OUT := $(patsubst contrib/python/%,$(B)/python/%,$(PY_SRCS)) $(B)/python/uhw/uhw_pb2.py $(B)/uhw-wsgi

.PHONY: python install-python bench-python
all: python
python: $(PY_OUT)

$(B)/python/uhw/%.py: contrib/python/uhw/%.py
	@mkdir -p $(dir $@)
	$(Q)cp $< $@

$(B)/python/uhw/uhw_pb2.py: proto/uhw.proto
	@mkdir -p $(dir $@)
	$(SAY) PROTOC "$< (python)"
	$(Q)protoc --python_out=$(dir $@) -Iproto $<

$(B)/uhw-wsgi: contrib/python/uhw-wsgi
	$(Q)install -m 0755 $< $@

install: install-python
install-python: python
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/uhw/python/uhw
	install -m 0644 $(B)/python/uhw/*.py $(DESTDIR)$(PREFIX)/lib/uhw/python/uhw/
	install -m 0755 $(B)/uhw-wsgi $(DESTDIR)$(PREFIX)/bin/uhw-wsgi

# Flask under uhw against the same app under gunicorn (sync workers), with wrk.
bench-python: deps-bench all
	@UHW_BUILD=$(abspath $(B)) bash test/bench_python.sh

# `make` runs protoc for uhw_pb2.py; Python workers need python3-protobuf; the tests use
# Flask, and pip + venv + setuptools + wheel to check `pip install ./contrib/python`.
DEBS_BUILD += protobuf-compiler
DEBS_TEST += python3-protobuf python3-flask python3-pip python3-venv python3-setuptools python3-wheel
DEBS_BENCH += python3-flask gunicorn
