#!/usr/bin/python3
"""Writes the seed corpora of test/fuzz/ (run from the repository root; needs protoc and Debian's
python3-protobuf). Mode byte 0: a ToWorker payload follows; else 0xff-separated pieces."""
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
subprocess.run(["rm", "-rf", tmp], check=True)
