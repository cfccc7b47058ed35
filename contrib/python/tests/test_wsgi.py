import io
import os
import sys
import tempfile
import unittest
import wsgiref.validate

from support import Pipes, answer, kinds, logs, request

from uhw import ERROR, WARNING, pb
from uhw.wsgi import WSGIAdapter, load_app
from uhw.worker import Worker


class Run:
    """One worker serving `app` over real pipes: messages go in, run() returns when the
    input ends, and .out holds what the worker wrote (Ready left out)."""

    def __init__(self, app, *msgs, script_name="", max_frame=None):
        p = Pipes(max_frame)
        try:
            self.worker = Worker(p.channel)
            self.adapter = WSGIAdapter(app, self.worker, script_name)
            p.send(*msgs)
            p.end_input()
            self.worker.run(self.adapter.handle)
            self.out = p.written()
        finally:
            p.close()
        assert kinds(self.out[:1]) == ["ready"], kinds(self.out)
        self.out = self.out[1:]

    @property
    def answer(self):
        return answer(self.out)


def capture(environ_out, status="200 OK", headers=(("Content-Type", "text/plain"),), body=(b"ok",)):
    def app(environ, start_response):
        environ_out.append(environ)
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response(status, list(headers))
        return list(body)
    return app


class EnvironTest(unittest.TestCase):
    def environ(self, req, **kw):
        seen = []
        run = Run(wsgiref.validate.validator(capture(seen)), req, **kw)
        self.assertEqual(run.answer[0], 200, run.out)   # the validator raised nothing
        return seen[0]

    def test_pep3333_environ(self):
        """every CGI variable and wsgi.* key of PEP 3333, checked by wsgiref.validate too"""
        env = self.environ(request(
            id=42, method="POST", path="/a%20b/c", query="x=1&y=2", body=b'{"k": 1}',
            headers=[("host", b"example.com:8080"), ("content-type", b"application/json"),
                     ("content-length", b"8"), ("x-forwarded-for", b"10.0.0.1"),
                     ("x-forwarded-for", b"10.0.0.2"), ("cookie", b"a=1"), ("cookie", b"b=2"),
                     ("user-agent", b"t\xe9st"), ("x_user", b"smuggled")],
            remote_addr="192.0.2.7", remote_port=51234, timeout_ms=29000))
        expect = {
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/a b/c",
            "QUERY_STRING": "x=1&y=2", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "8",
            "SERVER_NAME": "example.com", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "192.0.2.7", "REMOTE_PORT": "51234", "HTTP_HOST": "example.com:8080",
            "HTTP_X_FORWARDED_FOR": "10.0.0.1, 10.0.0.2", "HTTP_COOKIE": "a=1; b=2",
            "HTTP_USER_AGENT": "t\xe9st", "REQUEST_URI": "/a%20b/c?x=1&y=2",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False, "uhw.request_id": 42,
            "uhw.timeout_ms": 29000,
        }
        self.assertEqual({k: env.get(k) for k in expect}, expect)
        self.assertNotIn("HTTP_X_USER", env, "a header with '_' could pose as one with '-'")
        self.assertNotIn("HTTP_CONTENT_TYPE", env)
        self.assertNotIn("HTTP_CONTENT_LENGTH", env)
        for k, v in env.items():
            if k.isupper():
                self.assertIs(type(v), str, k)

    def test_body_in_wsgi_input(self):
        seen = []
        body = bytes(range(256)) * 100

        def app(environ, start_response):
            seen.append((environ["CONTENT_LENGTH"], environ["wsgi.input"].read()))
            start_response("200 OK", [])
            return []
        Run(app, request(method="PUT", body=body))
        self.assertEqual(seen, [(str(len(body)), body)])

    def test_no_body_no_length(self):
        env = self.environ(request(headers=[("host", b"h")]))
        self.assertNotIn("CONTENT_LENGTH", env)
        self.assertNotIn("CONTENT_TYPE", env)

    def test_server_name_and_port_from_host(self):
        for host, scheme, name, port in [(b"example.com", "http", "example.com", "80"),
                                         (b"example.com", "https", "example.com", "443"),
                                         (b"[::1]:8443", "https", "[::1]", "8443"),
                                         (b"[::1]", "http", "[::1]", "80"),
                                         (None, "http", "localhost", "80")]:
            headers = [("host", host)] if host else []
            env = self.environ(request(headers=headers, scheme=scheme))
            self.assertEqual((env["SERVER_NAME"], env["SERVER_PORT"], env["wsgi.url_scheme"]),
                             (name, port, scheme), host)

    def test_path_info_is_decoded_bytes_as_latin1(self):
        env = self.environ(request(path="/caf%C3%A9/%2F"))
        self.assertEqual(env["PATH_INFO"], "/caf\xc3\xa9//")
        self.assertEqual(env["RAW_URI"], "/caf%C3%A9/%2F")

    def test_script_name(self):
        for path, sn, pi in [("/app/x/y", "/app", "/x/y"), ("/app", "/app", ""), ("/app/", "/app", "/"),
                             ("/application", "", "/application"), ("/other", "", "/other")]:
            env = self.environ(request(path=path), script_name="/app/")
            self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), (sn, pi), path)

    def test_settings_from_configure(self):
        seen = []
        configure = pb.ToWorker(configure=pb.Configure(settings=[pb.Setting(key="greeting", value="hi")]))
        Run(wsgiref.validate.validator(capture(seen)), configure, request())
        self.assertEqual(dict(seen[0]["uhw.settings"]), {"greeting": "hi"})
        with self.assertRaises(TypeError):
            seen[0]["uhw.settings"]["x"] = "y"           # read-only: the pool's settings are uhw's

    def test_wsgi_errors_lines_are_error_logs(self):
        def app(environ, start_response):
            print("first line\nsecond", file=environ["wsgi.errors"], end="")
            environ["wsgi.errors"].write(" line\n")
            environ["wsgi.errors"].writelines(["third\n"])
            start_response("200 OK", [])
            return [b""]
        run = Run(app, request(id=9))
        self.assertEqual(logs(run.out), [(ERROR, "first line", 9), (ERROR, "second line", 9), (ERROR, "third", 9)])


    def test_log_lines_are_valid_and_bounded(self):
        """what an app writes to wsgi.errors never breaks a frame: lone surrogates, huge lines"""
        def app(environ, start_response):
            environ["wsgi.errors"].write("bad \udcff name\n" + "x" * 100000 + "\n")
            start_response("200 OK", [])
            return [b"ok"]
        run = Run(app, request(id=5), max_frame=64 * 1024)
        self.assertEqual(run.answer[2], b"ok")
        lines = logs(run.out, ERROR)
        self.assertEqual(lines[0][1], "bad \\udcff name")
        self.assertLess(len(lines[1][1]), 8200)

    def test_file_wrapper(self):
        data = os.urandom(600 * 1024)
        closed = []

        class File(io.BytesIO):
            def close(self):
                closed.append(True)
                super().close()

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            return environ["wsgi.file_wrapper"](File(data), 8192)
        status, _, body, seen = Run(app, request()).answer
        self.assertEqual((status, body, closed), (200, data, [True]))
        self.assertLessEqual(len(seen), 5, "large pieces, few frames")


class StartResponseTest(unittest.TestCase):
    def test_exc_info_before_output_replaces_the_head(self):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/html")])
            try:
                raise KeyError("x")
            except KeyError:
                start_response("503 Busy", [("Content-Type", "text/plain")], sys.exc_info())
            return [b"try later"]
        run = Run(app, request())
        self.assertEqual(run.answer, (503, {"Content-Type": b"text/plain"}, b"try later", ["response"]))

    def test_exc_info_after_write_but_before_sending_replaces_the_body(self):
        """a piece given to write() is not on the wire yet: an error page replaces it"""
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"half a page")
            try:
                raise ValueError
            except ValueError:
                start_response("500 Oops", [], sys.exc_info())
            return [b"error page"]
        self.assertEqual(Run(app, request()).answer[::2], (500, b"error page"))

    def test_exc_info_after_headers_were_sent_reraises(self):
        closed = []

        class Body:
            def __init__(self, start_response):
                self.start_response = start_response

            def __iter__(self):
                yield b"one"
                yield b"two"
                try:
                    raise ValueError("late")
                except ValueError:
                    self.start_response("500 Oops", [], sys.exc_info())
                yield b"never"

            def close(self):
                closed.append(True)

        run = Run(lambda env, sr: (sr("200 OK", []), Body(sr))[1], request(id=4))
        status, _, body, seen = run.answer
        self.assertEqual((status, body), (200, b"onetwo"))
        self.assertEqual(seen[-1], "stream_end")
        ends = [m.stream_end for m in run.out if m.WhichOneof("msg") == "stream_end"]
        self.assertEqual(len(ends), 1)
        self.assertEqual(ends[0].error, "exception in the application")
        errors = logs(run.out, ERROR)
        self.assertEqual(errors[-1][1], "ValueError: late", "start_response re-raised the app's own exception")
        self.assertTrue(closed)

    def test_second_call_without_exc_info_is_an_error(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            start_response("201 Created", [])
            return [b"x"]
        run = Run(app, request())
        self.assertEqual(run.answer[0], 500)
        self.assertTrue(any("AssertionError" in m for _, m, _ in logs(run.out, ERROR)))

    def test_no_start_response_is_an_error(self):
        self.assertEqual(Run(lambda env, sr: [b"x"], request()).answer[0], 500)
        self.assertEqual(Run(lambda env, sr: [], request()).answer[0], 500)


class BodyTest(unittest.TestCase):
    def app(self, pieces, headers=(("Content-Type", "text/plain"),), closed=None):
        def app(environ, start_response):
            start_response("200 OK", list(headers))

            def gen():
                try:
                    yield from pieces
                finally:
                    if closed is not None:
                        closed.append(True)
            return gen()
        return app

    def test_streaming_decision(self):
        for pieces, expect in [([], ["response"]), ([b"a"], ["response"]), ([b"", b"a", b""], ["response"]),
                               ([b"a", b"b"], ["stream_start", "stream_data", "stream_data", "stream_end"]),
                               ([b"a", b"", b"b", b"c"], ["stream_start"] + ["stream_data"] * 3 + ["stream_end"])]:
            _, _, body, seen = Run(self.app(pieces), request()).answer
            self.assertEqual((seen, body), (expect, b"".join(pieces)), pieces)

    def test_event_stream_streams_from_the_first_event(self):
        run = Run(self.app([b"data: 1\n\n"], headers=[("Content-Type", "text/event-stream")]), request())
        self.assertEqual(run.answer[3], ["stream_start", "stream_data", "stream_end"])

    def test_write_callable(self):
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"a")
            write(b"")
            return [b"b"]
        self.assertEqual(Run(app, request()).answer[2:], (b"ab", ["stream_start", "stream_data", "stream_data", "stream_end"]))

        def app2(environ, start_response):
            start_response("200 OK", [])(b"only")
            return []
        self.assertEqual(Run(app2, request()).answer[2:], (b"only", ["response"]))

    def test_close_is_called(self):
        """close() of the returned iterable, whatever way the body ended"""
        class Body:
            def __init__(self, pieces, fail=False):
                self.pieces, self.fail, self.closed = pieces, fail, 0

            def __iter__(self):
                yield from self.pieces
                if self.fail:
                    raise RuntimeError("mid-body")

            def close(self):
                self.closed += 1

        for pieces, fail in (([b"a"], False), ([b"a", b"b"], False), ([], False), ([b"a"], True),
                             ([b"a", b"b"], True)):
            body = Body(pieces, fail)
            Run(lambda env, sr: (sr("200 OK", []), body)[1], request())
            self.assertEqual(body.closed, 1, (pieces, fail))

    def test_close_is_called_after_an_exception(self):
        closed = []

        def boom():
            yield b"a"
            raise RuntimeError("mid-body")
        run = Run(self.app(boom(), closed=closed), request())
        self.assertEqual(closed, [True])
        self.assertEqual(run.answer[0], 500, "nothing was on the wire yet: a clean 500")

    def test_exception_answers_500_and_logs_the_traceback(self):
        def app(environ, start_response):
            return 1 / 0
        run = Run(app, request(id=77, path="/boom"))
        status, headers, body, seen = run.answer
        self.assertEqual((status, seen), (500, ["response"]))
        self.assertIn(b"Internal Server Error", body)
        errors = logs(run.out, ERROR)
        self.assertTrue(errors and all(i == 77 for _, _, i in errors))
        text = [m for _, m, _ in errors]
        self.assertIn("GET /boom: unhandled ZeroDivisionError; answered 500", text[0])
        self.assertIn("Traceback (most recent call last):", text)
        self.assertIn("ZeroDivisionError: division by zero", text)

    def test_exception_mid_stream_aborts_it(self):
        def boom():
            yield b"a"
            yield b"b"
            raise RuntimeError("mid-stream")
        run = Run(self.app(boom()), request())
        ends = [m.stream_end for m in run.out if m.WhichOneof("msg") == "stream_end"]
        self.assertEqual(len(ends), 1)
        self.assertTrue(ends[0].error)
        self.assertIn("RuntimeError: mid-stream", [m for _, m, _ in logs(run.out, ERROR)])

    def test_str_piece_is_an_error(self):
        self.assertEqual(Run(self.app(["text"]), request()).answer[0], 500)

    def test_head_passes_through(self):
        run = Run(self.app([b"body"]), request(method="HEAD"))
        self.assertEqual(run.answer[0], 200)


class HeaderRulesTest(unittest.TestCase):
    def run_headers(self, headers, status="200 OK"):
        return Run(lambda env, sr: (sr(status, headers), [b"x"])[1], request(id=3))

    def test_hop_by_hop_is_dropped_with_a_warning(self):
        run = self.run_headers([("Content-Type", "text/plain"), ("Connection", "close"),
                                ("Transfer-Encoding", "chunked")])
        self.assertEqual(run.answer[:3], (200, {"Content-Type": b"text/plain"}, b"x"))
        warnings = logs(run.out, WARNING)
        self.assertEqual(len(warnings), 1)
        self.assertIn("Connection, Transfer-Encoding", warnings[0][1])

    def test_refused_heads_answer_500(self):
        for headers, status in [([("X-Bad", "a\r\nX-Injected: 1")], "200 OK"), ([("Bad Name", "v")], "200 OK"),
                                ([("X", "\u20ac")], "200 OK"), ([], "20 OK"), ([], "700 Too Far"),
                                ([], "103 Early Hints"), ([], 200)]:
            run = self.run_headers(headers, status)
            self.assertEqual(run.answer[0], 500, (headers, status))
            self.assertTrue(logs(run.out, ERROR), (headers, status))
            sent = [h.value for m in run.out if m.WhichOneof("msg") == "response" for h in m.response.headers]
            self.assertFalse([v for v in sent if b"X-Injected" in v])


class ControlTest(unittest.TestCase):
    def test_cancel_stops_a_stream(self):
        """Cancel for the current request: no more iterating, close(), StreamEnd with an error"""
        state = {"yielded": 0, "closed": False}
        holder = {}

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])

            def gen():
                try:
                    for i in range(1000):
                        state["yielded"] += 1
                        if i == 3:      # the client leaves: uhw sends Cancel
                            holder["pipes"].send(pb.ToWorker(cancel=pb.Cancel(id=environ["uhw.request_id"])))
                        yield b"chunk %d\n" % i
                finally:
                    state["closed"] = True
            return gen()

        p = Pipes()
        holder["pipes"] = p
        try:
            worker = Worker(p.channel)
            p.send(request(id=11))
            p.send(pb.ToWorker(shutdown=pb.Shutdown()))
            worker.run(WSGIAdapter(app, worker).handle)
            out = p.written()[1:]
        finally:
            p.close()
        self.assertLess(state["yielded"], 10)
        self.assertTrue(state["closed"])
        self.assertEqual(kinds(out)[-1], "stream_end")
        self.assertEqual(out[-1].stream_end.error, "cancelled")

    def test_cancel_of_another_request_is_ignored(self):
        pieces = [b"a", b"b", b"c"]
        run = Run(lambda env, sr: (sr("200 OK", []), iter(pieces))[1],
                  pb.ToWorker(cancel=pb.Cancel(id=999)), request(id=1))
        self.assertEqual(run.answer[2], b"abc")

    def test_shutdown_mid_stream_finishes_the_request_then_stops(self):
        holder = {}

        def app(environ, start_response):
            start_response("200 OK", [])

            def gen():
                yield b"a"
                holder["pipes"].send(pb.ToWorker(shutdown=pb.Shutdown(grace_ms=1000)))
                yield b"b"
                yield b"c"
            return gen()

        p = Pipes()
        holder["pipes"] = p
        try:
            worker = Worker(p.channel)
            p.send(request(id=1))           # the input stays open: only Shutdown can end run()
            worker.run(WSGIAdapter(app, worker).handle)
            out = p.written()[1:]
        finally:
            p.close()
        self.assertEqual(answer(out)[2:], (b"abc", ["stream_start"] + ["stream_data"] * 3 + ["stream_end"]))

    def test_requests_in_sequence_then_eof(self):
        run = Run(lambda env, sr: (sr("200 OK", []), [env["PATH_INFO"].encode()])[1],
                  request(id=1, path="/a"), request(id=2, path="/b"), request(id=3, path="/c"))
        self.assertEqual([(m.response.id, m.response.body) for m in run.out], [(1, b"/a"), (2, b"/b"), (3, b"/c")])


class LoadAppTest(unittest.TestCase):
    def test_specs(self):
        """module:attr, module:factory(), module (= module:application), and clear errors"""
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "uhw_test_site.py"), "w") as f:
                f.write("def application(e, sr): pass\n"
                        "class holder:\n    app = application\n"
                        "def create_app():\n    return application\n"
                        "not_an_app = 3\n")
            sys.path.insert(0, d)
            try:
                import uhw_test_site as site
                self.assertIs(load_app("uhw_test_site:application"), site.application)
                self.assertIs(load_app("uhw_test_site"), site.application)
                self.assertIs(load_app("uhw_test_site:holder.app"), site.application)
                self.assertIs(load_app("uhw_test_site:create_app()"), site.application)
                for bad in ("uhw_test_site:nope", "uhw_test_site:not_an_app"):
                    with self.assertRaises(SystemExit, msg=bad):
                        load_app(bad)
                with self.assertRaises(ImportError):
                    load_app("no_such_module_here:app")
            finally:
                sys.path.remove(d)
                sys.modules.pop("uhw_test_site", None)


if __name__ == "__main__":
    unittest.main()
