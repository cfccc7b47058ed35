#!/usr/bin/python3
"""uhw_worker -- a small library for uhw workers in Python (DESIGN.md sections 2 and 7).

    from uhw_worker import serve
    def handle(req):                      # req: uhw_pb2.Request (id, method, path, query, headers, body, ...)
        return 200, [("Content-Type", "text/plain")], b"hi\\n"   # headers: list of pairs or a dict
    serve(handle)

Requests are answered one at a time (Ready announces concurrency 1). print() goes to stderr:
stdout carries frames only. Needs Debian's python3-protobuf and uhw_pb2.py, generated with
    protoc --python_out=DIR -Iproto proto/uhw.proto
and found in $UHW_PB2_DIR, else next to this file.
"""
import os
import sys
import traceback

sys.path.insert(0, os.environ.get("UHW_PB2_DIR") or os.path.dirname(os.path.abspath(__file__)))
import uhw_pb2  # noqa: E402

_in = sys.stdin.buffer.raw      # unbuffered: read exactly the bytes of one frame
_out = sys.stdout.buffer
sys.stdout = sys.stderr         # a stray print() must not corrupt the protocol


def _read(n):
    buf = b""
    while len(buf) < n:
        chunk = _in.read(n - len(buf))
        if not chunk:
            raise EOFError("uhw: stdin ended inside a frame")
        buf += chunk
    return buf


def read_frame():
    """The next ToWorker message, or None at a clean end of input."""
    length = shift = 0
    while True:
        b = _in.read(1)
        if not b:
            if shift == 0:
                return None
            raise EOFError("uhw: stdin ended inside a length prefix")
        length |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("uhw: invalid length prefix")
    msg = uhw_pb2.ToWorker()
    msg.ParseFromString(_read(length))
    return msg


def send(msg):
    """Writes one FromWorker message as a frame (varint length, then the bytes)."""
    data, prefix = msg.SerializeToString(), bytearray()
    n = len(data)
    while n >= 0x80:
        prefix.append((n & 0x7F) | 0x80)
        n >>= 7
    prefix.append(n)
    _out.write(bytes(prefix) + data)
    _out.flush()


def log(level, message, req_id=0):
    """Logs through the supervisor; level is 0 (debug) .. 4 (critical)."""
    send(uhw_pb2.FromWorker(log=uhw_pb2.Log(level=level, message=message, id=req_id)))


def _b(v):
    return v if isinstance(v, bytes) else str(v).encode()


def serve(handler, info="python"):
    """Sends Ready, then answers each Request with handler(request) -> (status, headers, body)
    until Shutdown or end of input. An exception in the handler is logged and answered 500."""
    send(uhw_pb2.FromWorker(ready=uhw_pb2.Ready(protocol=1, concurrency=1, info=info)))
    while True:
        msg = read_frame()
        if msg is None or msg.WhichOneof("msg") == "shutdown":
            return
        if msg.WhichOneof("msg") != "request":
            continue                # Cancel: nothing to stop; Configure: ignored here
        req = msg.request
        try:
            status, headers, body = handler(req)
        except Exception:
            traceback.print_exc()
            status, headers, body = 500, [("Content-Type", "text/plain")], b"internal error\n"
        pairs = headers.items() if isinstance(headers, dict) else headers
        send(uhw_pb2.FromWorker(response=uhw_pb2.Response(
            id=req.id, status=status, body=_b(body),
            headers=[uhw_pb2.Header(name=k, value=_b(v)) for k, v in pairs])))


if __name__ == "__main__":
    serve(lambda req: (200, [("Content-Type", "text/plain")], b"hello from python\n"))
