"""What the unit tests share: a Channel on real pipes, and the supervisor's side of them
(write ToWorker frames in, read FromWorker frames out), written with the protobuf runtime
directly so the tests do not check the Channel against itself."""
import fcntl
import os

from google.protobuf.internal import decoder, encoder

from uhw import pb
from uhw.channel import Channel

_F_SETPIPE_SZ = 1031        # Linux: room for every frame a test sends without a reader


def frame(msg):
    data = msg.SerializeToString()
    return encoder._VarintBytes(len(data)) + data


def request(id=1, method="GET", path="/", query="", headers=(), body=b"", **fields):
    fields.setdefault("remote_addr", "127.0.0.1")
    fields.setdefault("remote_port", 40000)
    fields.setdefault("scheme", "http")
    fields.setdefault("http_version", "HTTP/1.1")
    return pb.Request(id=id, method=method, path=path, query=query, body=body,
                      headers=[pb.Header(name=n, value=v) for n, v in headers], **fields)


class Pipes:
    """A Channel whose input the test writes and whose output the test reads."""

    def __init__(self, max_frame=None):
        self.in_r, self.in_w = os.pipe()
        self.out_r, self.out_w = os.pipe()
        for fd in (self.in_w, self.out_w):
            fcntl.fcntl(fd, _F_SETPIPE_SZ, 1 << 20)
        os.set_blocking(self.out_r, False)
        self.channel = Channel(self.in_r, self.out_w, max_frame=max_frame)
        self._out = bytearray()

    def close(self):
        for fd in (self.in_r, self.in_w, self.out_r, self.out_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def feed(self, data):
        """Raw bytes for the worker's input."""
        os.write(self.in_w, data)

    def send(self, *msgs):
        """ToWorker messages (or Requests, wrapped) for the worker's input."""
        for m in msgs:
            if isinstance(m, pb.Request):
                m = pb.ToWorker(request=m)
            self.feed(frame(m))

    def end_input(self):
        os.close(self.in_w)

    def written(self):
        """The FromWorker messages written so far (and not returned before)."""
        while True:
            try:
                chunk = os.read(self.out_r, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._out += chunk
        msgs, pos = [], 0
        while pos < len(self._out):
            length, start = decoder._DecodeVarint(self._out, pos)
            assert start + length <= len(self._out), "a partial frame was written"
            msgs.append(pb.FromWorker.FromString(bytes(self._out[start:start + length])))
            pos = start + length
        del self._out[:pos]
        return msgs


def kinds(msgs):
    return [m.WhichOneof("msg") for m in msgs]


def answer(msgs):
    """(status, {header name: value}, body, kinds) of the one answer among msgs, whether a
    Response or a stream; Log frames are left out."""
    status, headers, body, seen = None, {}, b"", []
    for m in msgs:
        kind = m.WhichOneof("msg")
        if kind == "log":
            continue
        seen.append(kind)
        if kind in ("response", "stream_start"):
            head = getattr(m, kind)
            status = head.status
            headers = {h.name: h.value for h in head.headers}
            body += getattr(head, "body", b"") if kind == "response" else b""
        elif kind == "stream_data":
            body += m.stream_data.data
    return status, headers, body, seen


def logs(msgs, level=None):
    return [(m.log.level, m.log.message, m.log.id) for m in msgs
            if m.WhichOneof("msg") == "log" and (level is None or m.log.level == level)]


def run_worker(argv, msgs, cwd=None, env=None, timeout=120):
    """Runs a worker program with `msgs` as its whole input (then EOF), as uhw would;
    returns (exit status, FromWorker messages it wrote, its stderr text)."""
    import subprocess
    import sys
    data = b"".join(frame(pb.ToWorker(request=m) if isinstance(m, pb.Request) else m) for m in msgs)
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    full_env["UHW_PROTOCOL"] = "1"
    full_env.update(env or {})
    proc = subprocess.run(argv, input=data, capture_output=True, cwd=cwd, env=full_env, timeout=timeout)
    out, pos, msgs_out = proc.stdout, 0, []
    while pos < len(out):
        length, start = decoder._DecodeVarint(out, pos)
        assert start + length <= len(out), "stdout ends inside a frame: %r" % out[pos:]
        msgs_out.append(pb.FromWorker.FromString(out[start:start + length]))
        pos = start + length
    return proc.returncode, msgs_out, proc.stderr.decode("utf-8", "replace")
