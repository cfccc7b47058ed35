"""Builds the uhw package with uhw/uhw_pb2.py generated from uhw.proto by protoc (Debian:
protobuf-compiler). The generated module is never committed; every build makes it anew.

uhw.proto is the first of:
  1. $UHW_PROTO                         (any path to the file, which must be named uhw.proto)
  2. ../../proto/uhw.proto              (this directory inside a uhw source tree)
  3. /usr/local/share/uhw/uhw.proto, /usr/share/uhw/uhw.proto   (what `make install` puts there)
Everything else is in pyproject.toml.
"""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def find_proto():
    candidates = [os.environ.get("UHW_PROTO"),
                  os.path.join(HERE, "..", "..", "proto", "uhw.proto"),
                  "/usr/local/share/uhw/uhw.proto",
                  "/usr/share/uhw/uhw.proto"]
    for path in filter(None, candidates):
        if os.path.isfile(path):
            if os.path.basename(path) != "uhw.proto":
                raise SystemExit("uhw: %s: the proto file must be named uhw.proto (protoc names "
                                 "the module after it)" % path)
            return os.path.abspath(path)
    raise SystemExit("uhw: uhw.proto not found; set UHW_PROTO to its path (tried: %s)"
                     % ", ".join(filter(None, candidates)))


class BuildPyWithProto(build_py):
    """build_py, then protoc --python_out into the built package."""

    def run(self):
        super().run()
        protoc = shutil.which("protoc")
        if protoc is None:
            raise SystemExit("uhw: protoc not found (Debian: apt-get install protobuf-compiler)")
        proto = find_proto()
        out = os.path.join(self.build_lib, "uhw")
        self.mkpath(out)
        self.announce("generating uhw_pb2.py from %s" % proto, level=2)
        subprocess.run([protoc, "--python_out=" + out, "-I" + os.path.dirname(proto), proto], check=True)


setup(cmdclass={"build_py": BuildPyWithProto})
