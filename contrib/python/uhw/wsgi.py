"""Serves an unmodified WSGI application (PEP 3333) as a uhw worker.

    python3 -m uhw.wsgi [--script-name PREFIX] MODULE:APP     (or: uhw-wsgi MODULE:APP)

MODULE:APP names the application like gunicorn does: `app:app`, `mysite.wsgi:application`,
`app:create_app()` (called once, without arguments); MODULE alone means MODULE:application.
The worker's directory (pools.yaml `cwd`) is searched first for MODULE.

Each worker answers one request at a time, like gunicorn's sync workers. The environ is
PEP 3333's: SERVER_NAME and SERVER_PORT from the Host header, SCRIPT_NAME from
--script-name (or $SCRIPT_NAME) when the path starts with it, PATH_INFO percent-decoded,
CONTENT_TYPE, CONTENT_LENGTH, HTTP_* (headers whose names contain "_" are left out, as
gunicorn and nginx do, so "X_User" cannot pose as "X-User"), wsgi.input holding the whole
body, wsgi.errors writing to uhw's log at ERROR, and `uhw.request_id`, `uhw.settings` (the
pool's pools.yaml `settings`, read-only) and `uhw.timeout_ms` besides.

A body of one piece is sent as one response; an iterable that yields several non-empty
pieces is streamed as they come (text/event-stream from the first piece). close() is
always called. An exception in the application answers 500 (or aborts a started stream)
and logs the traceback; so does a status or header uhw would refuse, except hop-by-hop
headers (Connection...), which are left out with a log line.
"""
import argparse
import importlib
import io
import os
import sys
import types
from urllib.parse import unquote_to_bytes

from .channel import stdio_channel
from .responder import Responder
from .rules import ResponseError, check_headers, check_status
from .worker import ERROR, WARNING, Worker

__all__ = ["WSGIAdapter", "serve", "load_app", "main"]


def _latin1(value):
    return value.encode("latin-1")          # PEP 3333: header values are latin-1 strings


class ErrorStream(io.TextIOBase):
    """wsgi.errors: each line written becomes an ERROR line in uhw's log, tagged with the
    request it was written during (Flask logs a view's exception and its traceback here)."""

    def __init__(self, worker):
        self._worker = worker
        self._partial = ""

    def writable(self):
        return True

    def write(self, s):
        lines = (self._partial + s).split("\n")
        self._partial = lines.pop()
        if lines:
            self._worker.log_lines(ERROR, lines, self._worker.current)
        return len(s)

    def flush(self):
        if self._partial:
            line, self._partial = self._partial, ""
            self._worker.log(ERROR, line, self._worker.current)


class FileWrapper:
    """wsgi.file_wrapper: a file's content in large pieces (few frames), then close()."""

    def __init__(self, filelike, block_size=256 * 1024):
        self.filelike = filelike
        self.block_size = max(block_size, 256 * 1024)
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        while True:
            data = read(self.block_size)
            if not data:
                return
            yield data


def _server_name_port(host, scheme):
    """SERVER_NAME and SERVER_PORT from a Host header value ("example.com:8080", "[::1]")."""
    if host.startswith("["):
        end = host.find("]")
        name, port = host[:end + 1], host[end + 2:] if host[end + 1:end + 2] == ":" else ""
    else:
        name, _, port = host.partition(":")
    return name or "localhost", port or ("443" if scheme == "https" else "80")


class WSGIAdapter:
    """Calls a WSGI application for each request a Worker receives."""

    def __init__(self, app, worker, script_name=""):
        self.app = app
        self.worker = worker
        self.script_name = script_name.rstrip("/")
        self._host = (None, None)
        # Every request's environ starts as a copy of this.
        self._base = {
            "SCRIPT_NAME": "",
            "wsgi.version": (1, 0),
            "wsgi.errors": ErrorStream(worker),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,     # wsgi.input ends with the body
            "wsgi.file_wrapper": FileWrapper,
            "uhw.settings": types.MappingProxyType(worker.settings),
        }

    def environ(self, req):
        """The PEP 3333 environ of a uhw_pb2.Request."""
        env = self._base.copy()
        path = req.path
        # PATH_INFO is decoded: its bytes as latin-1 characters, as PEP 3333 wants.
        path_info = path if "%" not in path and path.isascii() else unquote_to_bytes(path).decode("latin-1")
        sn = self.script_name
        if sn and path_info.startswith(sn) and path_info[len(sn):len(sn) + 1] in ("", "/"):
            env["SCRIPT_NAME"] = sn
            path_info = path_info[len(sn):]
        query = req.query
        scheme = req.scheme or "http"
        body = req.body
        env["REQUEST_METHOD"] = req.method
        env["PATH_INFO"] = path_info
        env["QUERY_STRING"] = query
        env["RAW_URI"] = env["REQUEST_URI"] = path + "?" + query if query else path
        env["SERVER_PROTOCOL"] = req.http_version or "HTTP/1.1"
        env["REMOTE_ADDR"] = req.remote_addr
        env["REMOTE_PORT"] = str(req.remote_port)
        env["wsgi.url_scheme"] = scheme
        env["wsgi.input"] = io.BytesIO(body)
        env["uhw.request_id"] = req.id
        env["uhw.timeout_ms"] = req.timeout_ms
        has_length = bool(body)
        for h in req.headers:
            name = h.name
            value = h.value.decode("latin-1")
            if name == "content-type":
                env["CONTENT_TYPE"] = value
            elif name == "content-length":
                has_length = True       # uhw has the whole body: its length is the truth
            elif "_" in name:
                continue                # see the module doc
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
                old = env.get(key)
                env[key] = value if old is None else old + ("; " if key == "HTTP_COOKIE" else ", ") + value
        if has_length:
            env["CONTENT_LENGTH"] = str(len(body))
        host = env.get("HTTP_HOST", "")
        if self._host[0] != (host, scheme):        # one Host, parsed once
            self._host = ((host, scheme), _server_name_port(host, scheme))
        env["SERVER_NAME"], env["SERVER_PORT"] = self._host[1]
        return env

    def _head(self, status, headers, req_id):
        """Checks start_response's arguments: (status int, [(name, bytes)], stream?)."""
        if type(status) is not str or len(status) < 3 or not status[:3].isdigit() or status[3:4] not in ("", " "):
            raise ResponseError("status %r is not \"NNN Reason\"" % (status,))
        checked, dropped = check_headers(headers, _latin1)
        if dropped:
            self.worker.log(WARNING, "left out hop-by-hop response headers %s (uhw manages the connection)"
                            % ", ".join(dropped), req_id)
        stream = False
        for name, value in checked:
            if value.startswith(b"text/event-stream") and name.lower() == "content-type":
                stream = True
        return check_status(int(status[:3])), checked, stream

    def handle(self, req):
        """Runs the application for one request and sends its answer."""
        worker = self.worker
        out = Responder(worker.channel, req.id)
        head = None

        def start_response(status, headers, exc_info=None):
            nonlocal head
            if exc_info is not None:
                try:
                    if out.on_wire:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None     # no reference cycle through the traceback
            elif head is not None:
                raise AssertionError("start_response() called again without exc_info")
            head = self._head(status, headers, req.id)
            out.set_head(*head)
            return write

        def write(data):
            if head is None:
                raise AssertionError("write() called before start_response()")
            if type(data) is not bytes:
                raise TypeError("write() takes bytes, not %s" % type(data).__name__)
            if data:
                out.write(data)

        result = None
        try:
            result = self.app(self.environ(req), start_response)
            for data in result:
                if data:
                    if head is None:
                        raise AssertionError("the application yielded a body before calling start_response()")
                    if type(data) is not bytes:
                        raise TypeError("the application yielded %s, not bytes" % type(data).__name__)
                    out.write(data)
                    if out.streaming and worker.poll():
                        break
            if head is None:
                raise AssertionError("the application returned without calling start_response()")
            if worker.cancelled:
                out.abort("cancelled")
            else:
                out.finish()
        except ResponseError as e:
            worker.fail_request(out, req, "invalid response (%s)" % e)
        except Exception as e:
            worker.fail_request(out, req, "unhandled %s" % type(e).__name__)
        finally:
            if hasattr(result, "close"):
                try:
                    result.close()
                except Exception:
                    worker.log_exception("%s %s: the application's close() raised" % (req.method, req.path), req.id)
            self._base["wsgi.errors"].flush()


def serve(app, channel=None, script_name="", info="python wsgi"):
    """Serves `app` until uhw asks the worker to stop."""
    worker = Worker(channel or stdio_channel(), info)
    worker.run(WSGIAdapter(app, worker, script_name).handle)


def load_app(spec):
    """The application named by "module:attr", "module:factory()" or "module"."""
    module_name, _, attr = spec.partition(":")
    attr = attr or "application"
    call = attr.endswith("()")
    if call:
        attr = attr[:-2]
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit("uhw-wsgi: %s has no attribute %r (looked for %s)" % (module_name, part, spec)) from None
    if call:
        obj = obj()
    if not callable(obj):
        raise SystemExit("uhw-wsgi: %s is not a WSGI application (not callable)" % spec)
    return obj


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="uhw-wsgi", description="Serve a WSGI application as a uhw worker. In pools.yaml: "
        "command: [python3, -m, uhw.wsgi, app:app]")
    parser.add_argument("app", metavar="MODULE:APP", help="the application, e.g. app:app or mysite.wsgi")
    parser.add_argument("--script-name", default=os.environ.get("SCRIPT_NAME", ""), metavar="PREFIX",
                        help="the URL prefix the application is mounted at (default: $SCRIPT_NAME, or none)")
    args = parser.parse_args(argv)
    if not os.environ.get("UHW_PROTOCOL") and os.isatty(0):
        parser.exit(2, "uhw-wsgi: stdin is a terminal; this is a uhw worker: start it from pools.yaml, "
                    "e.g. command: [python3, -m, uhw.wsgi, %s]\n" % args.app)
    # `python3 -m` puts the current directory first on sys.path, a console script does not.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    # Before the application is imported, so what it prints at import goes to the log.
    channel = stdio_channel()
    serve(load_app(args.app), channel, args.script_name, info="python wsgi %s" % args.app)
    return 0


if __name__ == "__main__":
    sys.exit(main())
