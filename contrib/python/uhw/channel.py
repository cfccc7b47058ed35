"""Frames over a worker's pipes: ToWorker messages in, FromWorker messages out.

Every frame is its length as a protobuf varint, then the message (the "delimited" format,
DESIGN.md section 2). The varint is read and written with the protobuf runtime's own
functions, the messages with the generated classes in uhw_pb2.

A Channel reads in large pieces (one os.read usually holds a whole request), reads a large
frame straight to its size, and keeps what follows the frame it returns for the next call;
a frame is the same whatever way the pipe happened to split it. It writes each batch of frames with one os.write, so a response is
one syscall.
"""
import os
import select

from google.protobuf.internal import decoder as _decoder
from google.protobuf.internal import encoder as _encoder

from . import uhw_pb2 as pb

# The runtime has no public delimited-message API in the versions Debian ships (3.21):
# these two helpers are what its own delimited readers and writers use.
_read_varint = _decoder._DecodeVarint
_varint_bytes = _encoder._VarintBytes

DEFAULT_MAX_FRAME = 16 * 1024 * 1024
_READ_SIZE = 64 * 1024
# A varint of a length never needs more than 10 bytes; a longer run of continuation bytes
# is not a length at all.
_MAX_VARINT = 10


class ProtocolError(Exception):
    """The supervisor sent bytes that are not a frame (it never should)."""


def max_frame_from_env(environ=os.environ):
    """The largest frame uhw accepts from this worker: $UHW_MAX_FRAME, else 16 MiB."""
    try:
        n = int(environ.get("UHW_MAX_FRAME", ""))
    except ValueError:
        return DEFAULT_MAX_FRAME
    return n if n > 0 else DEFAULT_MAX_FRAME


def encode(msg):
    """One FromWorker (or any) message as a frame: varint length, then the bytes."""
    data = msg.SerializeToString()
    return _varint_bytes(len(data)) + data


class Channel:
    """The protocol end of a worker: reads ToWorker frames from in_fd, writes FromWorker
    frames to out_fd. Not thread-safe: one thread owns it."""

    def __init__(self, in_fd, out_fd, max_frame=None):
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.max_frame = max_frame or max_frame_from_env()
        self.eof = False
        self._buf = bytearray()      # received, not yet returned as messages
        self._rbuf = bytearray(_READ_SIZE)
        self._rview = memoryview(self._rbuf)

    # ------------------------------------------------------------------ reading

    def _take_frame(self):
        """Takes one complete frame off the buffer. Returns (message, 0), or (None, n) when
        n more bytes are needed (1 when even the length prefix is incomplete)."""
        buf = self._buf
        if not buf:
            return None, 1
        try:
            length, start = _read_varint(buf, 0)
        except IndexError:                             # the varint itself is incomplete
            if len(buf) >= _MAX_VARINT:
                raise ProtocolError("invalid frame length prefix") from None
            return None, 1
        except _decoder._DecodeError as e:
            raise ProtocolError("invalid frame length prefix: %s" % e) from None
        end = start + length
        if len(buf) < end:
            return None, end - len(buf)
        msg = pb.ToWorker.FromString(memoryview(buf)[start:end])  # the view is gone after the call
        del buf[:end]
        return msg, 0

    def _read_some(self):
        # Into a buffer kept for the worker's life: os.read(fd, n) would allocate (and for
        # large n, mmap and unmap) n bytes on every call.
        n = os.readv(self.in_fd, [self._rbuf])
        if not n:
            self.eof = True
            if self._buf:
                raise ProtocolError("input ended inside a frame")
            return
        self._buf += self._rview[:n]

    def _read_exactly(self, n):
        """Reads n more bytes straight into the buffer: a large request body is copied
        once, not gathered piece by piece."""
        have = len(self._buf)
        self._buf += bytes(n)
        with memoryview(self._buf) as view:
            while n:
                got = os.readv(self.in_fd, [view[len(view) - n:]])
                if got == 0:
                    self.eof = True
                    break
                n -= got
        if n:
            del self._buf[have:]
            raise ProtocolError("input ended inside a frame")

    def recv(self):
        """The next ToWorker message; None at the end of input. Blocks."""
        while True:
            msg, missing = self._take_frame()
            if msg is not None:
                return msg
            if self.eof:
                return None
            if missing > _READ_SIZE:
                self._read_exactly(missing)
            else:
                self._read_some()

    def recv_ready(self):
        """The ToWorker messages that have arrived, without blocking (possibly none)."""
        out = []
        while not self.eof and select.select([self.in_fd], [], [], 0)[0]:
            self._read_some()
            while True:
                msg, _ = self._take_frame()
                if msg is None:
                    break
                out.append(msg)
        return out

    # ------------------------------------------------------------------ writing

    def send(self, *msgs):
        """Writes messages as frames, all in one write."""
        self.write_frames(b"".join(encode(m) for m in msgs))

    def write_frames(self, data):
        """Writes already-encoded frames; loops on a partial write (a signal, a full pipe)."""
        n = os.write(self.out_fd, data)
        if n < len(data):
            view = memoryview(data)
            while n < len(view):
                n += os.write(self.out_fd, view[n:])


_stdio = None


def stdio_channel():
    """The channel on this worker's protocol pipes, fds 0 and 1, taken over on the first
    call: the protocol gets private close-on-exec copies of them, fd 0 becomes /dev/null
    and fd 1 a copy of stderr (fd 2). So print(), a C extension's printf or a child
    process writes to the log, and nothing the program does can read request bytes or
    corrupt a frame. UHW_PROTOCOL is removed from the environment: the pipes belong to
    this process, not to the programs it runs."""
    global _stdio
    if _stdio is None:
        import sys
        in_fd, out_fd = os.dup(0), os.dup(1)          # os.dup: not inheritable
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(2, 1)
        sys.stdout = sys.stderr                        # line-buffered: lines reach the log whole
        sys.stdin = open(os.devnull, "r")
        os.environ.pop("UHW_PROTOCOL", None)
        _stdio = Channel(in_fd, out_fd)
    return _stdio
