"""The handler API (uhw.serve), in-process through a Worker, and as a real program."""
import os
import sys
import tempfile
import textwrap
import unittest

from support import Pipes, answer, kinds, logs, request, run_worker

import uhw
from uhw import ERROR, WARNING, pb
from uhw.worker import Worker


def run_handler(handler, *msgs):
    p = Pipes()
    try:
        worker = Worker(p.channel)
        p.send(*msgs)
        p.end_input()
        worker.run(lambda req: uhw._answer(worker, handler, req))
        out = p.written()
    finally:
        p.close()
    assert kinds(out[:1]) == ["ready"]
    return out[1:]


class HandlerTest(unittest.TestCase):
    def test_tuple_answer(self):
        out = run_handler(lambda req: (201, [("Content-Type", "text/plain"), ("X-N", 3)], "héllo %s" % req.path),
                          request(path="/p"))
        self.assertEqual(answer(out), (201, {"Content-Type": b"text/plain", "X-N": b"3"},
                                       "héllo /p".encode(), ["response"]))

    def test_dict_headers_and_bytes(self):
        out = run_handler(lambda req: (200, {"Content-Type": "application/octet-stream"}, b"\x00\x01"), request())
        self.assertEqual(answer(out)[1:3], ({"Content-Type": b"application/octet-stream"}, b"\x00\x01"))

    def test_generator_body_streams(self):
        closed = []

        def handler(req):
            def body():
                try:
                    yield "a"
                    yield b"b"
                finally:
                    closed.append(True)
            return 200, [], body()
        out = run_handler(handler, request())
        self.assertEqual(answer(out)[2:], (b"ab", ["stream_start", "stream_data", "stream_data", "stream_end"]))
        self.assertEqual(closed, [True])

    def test_exception_is_500_with_traceback(self):
        def handler(req):
            raise KeyError("missing")
        out = run_handler(handler, request(id=6, path="/k"))
        self.assertEqual(answer(out)[0], 500)
        text = [m for _, m, i in logs(out, ERROR) if i == 6]
        self.assertIn("GET /k: unhandled KeyError; answered 500", text[0])
        self.assertIn("KeyError: 'missing'", text)

    def test_refused_and_dropped_headers(self):
        out = run_handler(lambda req: (200, [("Connection", "close"), ("X", "ok")], b"x"), request())
        self.assertEqual(answer(out)[:2], (200, {"X": b"ok"}))
        self.assertTrue(logs(out, WARNING))
        out = run_handler(lambda req: (200, [("X", "a\nb")], b"x"), request())
        self.assertEqual(answer(out)[0], 500)
        out = run_handler(lambda req: (99, [], b"x"), request())
        self.assertEqual(answer(out)[0], 500)

    def test_header_helper(self):
        req = request(headers=[("x-a", b"1"), ("host", b"h")])
        self.assertEqual((uhw.header(req, "X-A"), uhw.header(req, "nope", "d")), ("1", "d"))


class ProgramTest(unittest.TestCase):
    """Real processes: stdin/stdout taken over, print() and fd 1 writes go to stderr."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        with open(os.path.join(self.dir.name, name), "w") as f:
            f.write(textwrap.dedent(text))

    def test_serve_guards_stdout(self):
        self.write("w.py", """\
            import os, subprocess, sys, uhw
            print("at import")
            def handle(req):
                print("inside", req.path)
                os.write(1, b"raw fd 1 write\\n")
                subprocess.run([sys.executable, "-c", "import os; print('child sees', os.environ.get('UHW_PROTOCOL'))"])
                return 200, [], b"fine"
            uhw.serve(handle, info="w.py")
            print("after serve")
            """)
        rc, out, err = run_worker([sys.executable, "w.py"], [request(id=1, path="/x"), request(id=2)],
                                  cwd=self.dir.name)
        self.assertEqual(rc, 0, err)
        self.assertEqual(kinds(out), ["ready", "response", "response"])
        self.assertEqual(out[0].ready, pb.Ready(protocol=1, concurrency=1, info="w.py"))
        self.assertEqual([m.response.body for m in out[1:]], [b"fine", b"fine"])
        for text in ("at import", "inside /x", "raw fd 1 write", "child sees None", "after serve"):
            self.assertIn(text, err)

    def test_wsgi_module_guards_stdout_and_exits_0(self):
        self.write("mysite.py", """\
            import os, sys
            print("importing mysite")
            def app(environ, start_response):
                print("in app")
                os.write(1, b"raw\\n")
                data = sys.stdin.read()          # /dev/null: the protocol is out of reach
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"stdin gave %d bytes" % len(data)]
            """)
        rc, out, err = run_worker([sys.executable, "-m", "uhw.wsgi", "mysite:app"],
                                  [request(id=1), pb.ToWorker(shutdown=pb.Shutdown()), request(id=2)],
                                  cwd=self.dir.name)
        self.assertEqual(rc, 0, err)
        self.assertEqual(kinds(out), ["ready", "response"], "nothing after Shutdown")
        self.assertEqual(out[1].response.body, b"stdin gave 0 bytes")
        for text in ("importing mysite", "in app", "raw"):
            self.assertIn(text, err)

    def test_wsgi_import_error_exits_non_zero_before_ready(self):
        self.write("broken.py", "import no_such_module_anywhere\n")
        rc, out, err = run_worker([sys.executable, "-m", "uhw.wsgi", "broken:app"], [], cwd=self.dir.name)
        self.assertNotEqual(rc, 0)
        self.assertEqual(out, [])
        self.assertIn("No module named 'no_such_module_anywhere'", err)


if __name__ == "__main__":
    unittest.main()
