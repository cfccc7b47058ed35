#!/usr/bin/python3
"""Writes the seed corpora of test/fuzz/ (run from the repository root; needs protoc and Debian's
python3-protobuf).
recv, fields: mode byte 0: a ToWorker payload follows; else 0xff-separated pieces.
frame: byte 0 picks max_frame (0: the default), bytes 1-2 seed the chunk sizes, then a stream of frames.
libuhw: byte 0 is the length of the script that follows (what the application does), then ToWorker frames."""
import os, subprocess, sys, tempfile

tmp = tempfile.mkdtemp()
subprocess.run(["protoc", "--python_out=" + tmp, "-Iproto", "proto/uhw.proto"], check=True)
sys.path.insert(0, tmp)
import uhw_pb2 as pb  # noqa: E402


def request(**kw):
    headers = kw.pop("headers", [])
    m = pb.ToWorker(request=pb.Request(**kw))
    for name, value in headers:
        m.request.headers.add(name=name, value=value)
    return b"\0" + m.SerializeToString()


seeds = {
    "get": request(id=1, method="GET", path="/", remote_addr="127.0.0.1", scheme="http",
                   http_version="HTTP/1.1", headers=[("host", b"a"), ("user-agent", b"curl")]),
    "post": request(id=2, method="POST", path="/up", query="a=1&b='2'", body=b"\0\1\2binary",
                    headers=[("content-type", b"text/plain"), ("content-length", b"9")]),
    "hostile": request(id=3, method="GET", path="/'$(id)`id`\"\\", query="';id;'",
                       headers=[("X-Evil", b"'\\''$(touch x)"), ("x-evil", b"\n\r\t"), ("X_Forwarded_For", b"1"),
                                ("X-Forwarded-For", b"2"), ("proxy", b"http://evil"), ("", b"empty name")]),
    "configure": b"\0" + pb.ToWorker(configure=pb.Configure(settings=[
        pb.Setting(key="db.url", value="postgres://x/'y'"), pb.Setting(key="Mode", value="$(id)")])).SerializeToString(),
    "pieces": b"\1GET\xff/p'q\xff\xffX-A\xff'v'\xffX_A\xffw\xffcontent-type\xfft",
}
commands = {
    "reply": b"/tmp\x004\x00reply\x00-t\x00text/plain\x00hello\n\x00/tmp\x001\x00recv\x00",
    "json": b"/\x003\x00json\x00ok:=true\x00path=/x\x00",
}
for target, extra in (("recv", {}), ("fields", commands)):
    os.makedirs(f"test/fuzz/corpus/{target}", exist_ok=True)
    for name, data in {**seeds, **extra}.items():
        with open(f"test/fuzz/corpus/{target}/{name}", "wb") as f:
            f.write(data)


def frame(m):
    data = m.SerializeToString()
    n, prefix = len(data), b""
    while n >= 0x80:
        prefix += bytes([n & 0x7f | 0x80])
        n >>= 7
    return prefix + bytes([n]) + data


def fw(**kw):
    return frame(pb.FromWorker(**kw))


hdrs = [pb.Header(name="Content-Type", value=b"text/plain"), pb.Header(name="X-A", value=b"\0\1")]
stream = (fw(ready=pb.Ready(protocol=1, concurrency=4, info="c")) +
          fw(response=pb.Response(id=1, status=200, headers=hdrs, body=b"hello\n")) +
          fw(stream_start=pb.StreamStart(id=2, status=200, headers=hdrs[:1])) +
          fw(stream_data=pb.StreamData(id=2, data=b"x" * 200)) + fw(stream_end=pb.StreamEnd(id=2, error="")) +
          fw(keep_alive=pb.KeepAlive(id=3)) + fw(log=pb.Log(level=pb.Log.WARNING, message="m", id=3)) +
          fw(capacity=pb.Capacity(concurrency=0)) +
          fw(request_failed=pb.RequestFailed(id=3, status=504, reason="timeout", exit_code=-1, signal=9,
                                             detail="timed out", pid=42)))
frames = {
    "stream": b"\0\x12\x34" + stream,
    "stream_small_max": b"\x0b\x56\x78" + stream,          # max_frame 300: the 200-byte data frame fits
    "ready": b"\0\0\1" + fw(ready=pb.Ready(protocol=1)),
    "empty_frames": b"\0\0\2" + b"\0\0" + fw(keep_alive=pb.KeepAlive()),
    "to_worker": b"\0\1\0" + frame(pb.ToWorker(request=pb.Request(id=7, method="GET", path="/", headers=hdrs))) +
                 frame(pb.ToWorker(cancel=pb.Cancel(id=7, reason=pb.Cancel.TIMEOUT))) +
                 frame(pb.ToWorker(configure=pb.Configure(settings=[pb.Setting(key="k", value="v")]))) +
                 frame(pb.ToWorker(shutdown=pb.Shutdown(grace_ms=100))),
    "text": b"\0\3\3" + fw(ready=pb.Ready(protocol=1)) + b"hello world\n",
    "json": b"\0\4\4" + b'{"a": 1}\n',
    "truncated": b"\0\5\5" + stream[:-3],
    "too_big": b"\x07\6\6" + b"\x80\x01" + b"\x0a" * 10,      # max_frame 127, a length of 128
    "bad_varint": b"\x10\7\7" + b"\x80" * 9 + b"\x02",           # max_frame SIZE_MAX
    "long_prefix": b"\0\x08\x08" + b"\x85\x80\x80\x00" + b"\x0a\x03abc",  # 5 in four bytes
    "unknown_field": b"\0\x09\x09" + b"\x07" + b"\xa2\x06\x04abcd",   # field 100, wire type 2
}
os.makedirs("test/fuzz/corpus/frame", exist_ok=True)
for name, data in frames.items():
    with open(f"test/fuzz/corpus/frame/{name}", "wb") as f:
        f.write(data)


def tw(**kw):
    return frame(pb.ToWorker(**kw))


def req(id, path="/", query="", headers=(), body=b"", method="GET"):
    return tw(request=pb.Request(id=id, method=method, path=path, query=query, body=body, remote_addr="127.0.0.1",
                                 remote_port=5555, scheme="http", http_version="HTTP/1.1", pool="p", timeout_ms=30000,
                                 headers=[pb.Header(name=n, value=v) for n, v in headers]))


def script(*acts, feed=7):
    """Byte 0: script length; byte 1: seed of the stdin piece sizes; script: concurrency 2, info, then
    the application's choices (fuzz_libuhw.c: A_TEXT 0 ... A_WAIT 14, each followed by its parameters)."""
    s = bytes([2, 1]) + bytes(acts)
    return bytes([len(s), feed]) + s


H = [("host", b"a"), ("Content-Type", b"text/plain"), ("x-multi", b"1"), ("X-Multi", b"2"), ("x-crlf", b"a\r\nb"),
     ("bad name", b"v"), ("connection", b"close")]
Q = "a=1&b=%41+%zz&&c&a=2&%61%62=x%00y&="
bye = tw(shutdown=pb.Shutdown(grace_ms=500))
conf = tw(configure=pb.Configure(settings=[pb.Setting(key="db", value="x"), pb.Setting(key="db", value="y"),
                                           pb.Setting(key="", value="empty")]))
libuhw = {
    "hello": script(feed=0) + req(1) + bye,
    "eof": script(feed=1) + req(1, "/a") + req(2, "/b", Q, H, b"body\r\nline\0nul"),
    "lookups": script(12, 1, 0, 5, 12, 2, 1, 3, 1, 1, 0, 6, 0, 0) + req(3, "/q", Q, H, b"x"),
    "streams": script(2, 3, 4, 5, 6, 7) + req(4, "/s", Q, H, b"data\nmore\r\nend\r"),
    "sse": script(4, 0, 2, 2, 0, 1, 4, 7, 2) + req(5, "/e", "", H, b"a\rb"),
    "later_cancel": script(13, 14) + req(6, "/l") + req(7, "/w") +
                    tw(cancel=pb.Cancel(id=7, reason=pb.Cancel.CLIENT_GONE)) + tw(cancel=pb.Cancel(id=6, reason=pb.Cancel.TIMEOUT)),
    "wait_shutdown": script(14) + req(8, "/w") + bye + req(9, "/late") + conf,
    "configure": script() + conf + req(10, "/c") + tw(configure=pb.Configure()) + bye,
    "fail": script(8, 1, 8, 0) + req(11, "/f") + req(12, "/g") + bye,
    "misc": script(9, 10, 11, 1, 3) + req(13, "/m", "", H, b"b") + bye,
    "dup_ids": script(14, 0, 0, 0, 0, 0, 0, 0, 14) + req(14, "/1") + req(14, "/2") +
               tw(cancel=pb.Cancel(id=14, reason=pb.Cancel.SHUTDOWN)) + tw(cancel=pb.Cancel(id=14)) + bye,
    "bad_frame": script() + req(15) + b"\x03\x0a\x05x",
    "unknown": script() + b"\x04\xa2\x06\x01x" + req(16) + bye,
    "truncated": script() + req(17) + req(18)[:-2],
}
os.makedirs("test/fuzz/corpus/libuhw", exist_ok=True)
for name, data in libuhw.items():
    with open(f"test/fuzz/corpus/libuhw/{name}", "wb") as f:
        f.write(data)
subprocess.run(["rm", "-rf", tmp], check=True)
