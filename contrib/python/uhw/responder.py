"""The answer to one request, as frames.

A body that turns out to be one piece goes out as one Response. Pieces are passed on as
they come, but the first is held back until a second one arrives (then StreamStart and
both pieces go out together, and every later piece at once) or the body ends (then it is
the body of a Response). `stream=True` streams from the first piece: server-sent events
must reach the client before the next event exists. No frame is larger than the
channel's max_frame: a larger body is sent as a stream of pieces that fit.
"""
import json

from . import uhw_pb2 as pb
from .channel import encode
from .rules import ResponseError

IDLE, HELD, STREAMING, DONE = range(4)

# Room for everything in a StreamData frame but its data: id, tags and lengths.
_FRAME_OVERHEAD = 64


class Responder:
    """Sends the answer to request `req_id` over `channel`. set_head() first, then write()
    any number of non-empty pieces, then finish(); or abort()/fail() when it went wrong."""

    __slots__ = ("channel", "id", "status", "headers", "stream", "state", "_held")

    def __init__(self, channel, req_id):
        self.channel = channel
        self.id = req_id
        self.status = 200
        self.headers = ()           # (name: str, value: bytes) pairs, already checked
        self.stream = False
        self.state = IDLE
        self._held = None

    @property
    def on_wire(self):
        """Whether anything was sent: from then on the status and headers are final."""
        return self.state >= STREAMING

    @property
    def streaming(self):
        return self.state == STREAMING

    def set_head(self, status, headers, stream=False):
        """Status and headers for the answer; replaces earlier ones (and a held piece) as
        long as nothing was sent."""
        assert not self.on_wire, "the response has already started"
        self.status, self.headers, self.stream = status, headers, stream
        self._held = None
        self.state = IDLE

    def _head_frame(self, kind, body=None):
        """A Response (with `body`) or StreamStart frame. Filled in place: about twice as
        fast as building Header objects and copying them into the message."""
        m = pb.FromWorker()
        head = getattr(m, kind)
        head.id = self.id
        head.status = self.status
        add = head.headers.add
        for name, value in self.headers:
            add(name=name, value=value)
        if body:
            head.body = body
        return encode(m)

    def _start_frames(self):
        frame = self._head_frame("stream_start")
        if len(frame) > self.channel.max_frame:
            raise ResponseError("the response headers alone are larger than max_frame (%d bytes)"
                                % self.channel.max_frame)
        return frame

    def _data_frames(self, data):
        piece = max(1, self.channel.max_frame - _FRAME_OVERHEAD)
        return b"".join(encode(pb.FromWorker(stream_data=pb.StreamData(id=self.id, data=data[i:i + piece])))
                        for i in range(0, len(data), piece))

    def write(self, data):
        """Passes on one non-empty piece of the body."""
        state = self.state
        if state == STREAMING:
            self.channel.write_frames(self._data_frames(data))
        elif state == IDLE and not self.stream:
            self._held = data
            self.state = HELD
        elif state in (IDLE, HELD):
            frames = self._start_frames()             # may refuse the head: nothing changed yet
            if self._held:
                frames += self._data_frames(self._held)
            self._held = None
            self.state = STREAMING
            self.channel.write_frames(frames + self._data_frames(data))
        else:
            raise RuntimeError("write() after the response ended")

    def finish(self):
        """Ends the answer: a Response, or the StreamEnd of a stream."""
        state = self.state
        if state == STREAMING:
            self.state = DONE
            self.channel.send(pb.FromWorker(stream_end=pb.StreamEnd(id=self.id)))
            return
        if state == DONE:
            return
        body = self._held or b""
        frame = self._head_frame("response", body)
        if len(frame) > self.channel.max_frame:   # too large for one frame: stream it
            frame = (self._start_frames() + self._data_frames(body) +
                     encode(pb.FromWorker(stream_end=pb.StreamEnd(id=self.id))))
        self._held = None
        self.state = DONE
        self.channel.write_frames(frame)

    def abort(self, error):
        """Ends a started stream so the client sees it truncated; False when nothing was
        sent yet (then the caller can still answer with fail())."""
        if self.state != STREAMING:
            return False
        self.state = DONE
        self.channel.send(pb.FromWorker(stream_end=pb.StreamEnd(id=self.id, error=error or "aborted")))
        return True

    def fail(self, status=500, error="Internal Server Error"):
        """Answers with a JSON error like uhw's own, dropping whatever was held; only
        before anything was sent."""
        assert not self.on_wire
        body = json.dumps({"error": error, "request_id": self.id}).encode() + b"\n"
        self.set_head(status, [("Content-Type", b"application/json"), ("Cache-Control", b"no-store")])
        self._held = body
        self.state = HELD
        self.finish()
