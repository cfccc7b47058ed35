"""uhw -- uhw workers in Python.

Handler API: a function from a request to (status, headers, body).

    import uhw

    def handle(req):                  # req: uhw.pb.Request (id, method, path, query, headers, body, ...)
        return 200, [("Content-Type", "text/plain")], "hello %s\\n" % req.path

    uhw.serve(handle)

headers: a list of (name, value) pairs or a dict; values str (sent as UTF-8), bytes or int.
body: bytes or str, or an iterable of them: several non-empty pieces are streamed to the
client as they come (a generator serves server-sent events or a large download).
An exception in the handler answers 500 and logs its traceback at ERROR.

WSGI applications (Flask, Django...) need no code at all: `python3 -m uhw.wsgi app:app`,
see uhw.wsgi. Lower level: stdio_channel() reads and writes the frames of proto/uhw.proto,
whose generated classes are uhw.pb (uhw_pb2).

In a worker started by uhw ($UHW_PROTOCOL set), `import uhw` takes over stdin and stdout
at once (see stdio_channel): a print() anywhere, even while the program's other modules
are imported, goes to uhw's log instead of corrupting the protocol.
"""
import os

from . import uhw_pb2 as pb
from .channel import Channel, ProtocolError, stdio_channel
from .responder import Responder
from .rules import ResponseError, check_headers, check_status
from .worker import CRITICAL, DEBUG, ERROR, INFO, WARNING, Worker

__all__ = ["serve", "log", "settings", "header", "pb", "stdio_channel", "Channel", "ProtocolError", "Responder",
           "ResponseError", "Worker", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# pools.yaml `settings` of this worker's pool, as last sent by uhw (Configure); live.
settings = {}
_worker = None

if os.environ.get("UHW_PROTOCOL"):
    stdio_channel()


def serve(handler, info="python"):
    """Sends Ready, then answers each request with handler(request) until uhw asks the
    worker to stop; then returns (exit 0). Takes over stdin and stdout: print() goes to
    the log."""
    global _worker
    _worker = Worker(stdio_channel(), info)
    _worker.settings = settings
    _worker.run(lambda req: _answer(_worker, handler, req))


def log(level, message, req_id=0):
    """A line in uhw's log at `level` (uhw.DEBUG .. uhw.CRITICAL), about request req_id."""
    if _worker is None:
        import sys
        print(message, file=sys.stderr)
    else:
        _worker.log(level, message, req_id)


def header(req, name, default=None):
    """The value of request header `name` (any case) as str, or default."""
    name = name.lower()
    for h in req.headers:
        if h.name == name:
            return h.value.decode("utf-8", "replace")
    return default


def _to_bytes(v):
    if isinstance(v, bytes):
        return v
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    return str(v).encode()


def _answer(worker, handler, req):
    out = Responder(worker.channel, req.id)
    body = None
    try:
        status, headers, body = handler(req)
        pairs = headers.items() if isinstance(headers, dict) else headers
        checked, dropped = check_headers(pairs, _to_bytes)
        if dropped:
            worker.log(WARNING, "left out hop-by-hop response headers %s (uhw manages the connection)"
                       % ", ".join(dropped), req.id)
        out.set_head(check_status(status), checked)
        for piece in (body,) if isinstance(body, (bytes, bytearray, memoryview, str)) else body:
            piece = _to_bytes(piece)
            if piece:
                out.write(piece)
                if out.streaming and worker.poll():
                    out.abort("cancelled")
                    return
        out.finish()
    except ResponseError as e:
        worker.fail_request(out, req, "invalid response (%s)" % e)
    except Exception as e:
        worker.fail_request(out, req, "unhandled %s" % type(e).__name__)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                worker.log_exception("%s %s: close() of the body raised" % (req.method, req.path), req.id)
