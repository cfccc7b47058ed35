"""A worker's side of the protocol, whatever API the program uses: Ready, then one request
at a time until Shutdown or the end of input (then it returns, and the program exits 0).

One request at a time, like gunicorn's sync workers: Ready announces concurrency 1, so uhw
never sends a second request before the first is answered. Cancel, Configure and Shutdown
frames that arrive while a request is being answered are seen when the request is done,
or between the pieces of a streamed body (poll()).
"""
import collections
import traceback

from . import uhw_pb2 as pb

DEBUG, INFO, WARNING, ERROR, CRITICAL = range(5)

# uhw cuts log lines at 8 KiB; a longer message would only make a larger frame, and one
# above max_frame would cost the worker its life.
_LOG_MAX = 8000


def _utf8(text):
    """text as protobuf strings must be: valid UTF-8 (no lone surrogates, which a
    surrogateescape-decoded file name or header can hold)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _log_frame(level, message, req_id):
    message = str(message)
    if len(message) > _LOG_MAX:
        message = message[:_LOG_MAX] + "..."
    return pb.FromWorker(log=pb.Log(level=level, message=_utf8(message), id=req_id))


class Worker:
    def __init__(self, channel, info="python"):
        self.channel = channel
        self.info = _utf8(info)
        self.settings = {}          # the latest Configure: pools.yaml `settings`
        self.stopping = False       # Shutdown or end of input: exit after the current request
        self.current = 0            # id of the request being answered, 0 between requests
        self.cancelled = False      # the current request was cancelled (client gone, timeout)
        self._waiting = collections.deque()

    def run(self, handle):
        """Sends Ready, then calls handle(request) for each Request (a uhw_pb2.Request);
        handle answers it through a Responder. Returns on Shutdown or end of input."""
        self.channel.send(pb.FromWorker(ready=pb.Ready(protocol=1, concurrency=1, info=self.info)))
        recv = self.channel.recv
        while self._waiting or not self.stopping:
            msg = self._waiting.popleft() if self._waiting else recv()
            if msg is None:
                return
            if msg.HasField("request"):
                req = msg.request
                self.current, self.cancelled = req.id, False
                try:
                    handle(req)
                finally:
                    self.current = 0
            else:
                self._control(msg)

    def _control(self, msg):
        kind = msg.WhichOneof("msg")
        if kind == "cancel":
            if msg.cancel.id == self.current:      # a late Cancel for a finished request is moot
                self.cancelled = True
        elif kind == "configure":
            self.settings.clear()
            self.settings.update((s.key, s.value) for s in msg.configure.settings)
        elif kind == "shutdown":
            self.stopping = True
        # anything else comes from a newer protocol revision: ignored

    def poll(self):
        """Takes in the frames that arrived meanwhile, without blocking; True when the
        current request has been cancelled."""
        for msg in self.channel.recv_ready():
            if msg.HasField("request"):
                self._waiting.append(msg)
            else:
                self._control(msg)
        if self.channel.eof:
            self.stopping = True
        return self.cancelled

    # ------------------------------------------------------------------ logging

    def log(self, level, message, req_id=0):
        """One line in uhw's log, at `level` (DEBUG..CRITICAL), about request req_id."""
        self.channel.send(_log_frame(level, message, req_id))

    def log_lines(self, level, lines, req_id=0):
        """Several lines, in one write: they stay together in uhw's log."""
        self.channel.send(*(_log_frame(level, line, req_id) for line in lines))

    def log_exception(self, summary, req_id=0):
        """`summary` and the traceback of the exception being handled, at ERROR."""
        lines = [summary] + "".join(traceback.format_exc()).rstrip("\n").split("\n")
        self.log_lines(ERROR, lines, req_id)

    def fail_request(self, out, req, what):
        """Answers a request whose handler raised `what`: 500, or, when its stream has
        started, an aborted stream; logs the traceback at ERROR. Call from an except block."""
        if out.abort("exception in the application"):
            self.log_exception("%s %s: %s; the stream was aborted" % (req.method, req.path, what), req.id)
        else:
            out.fail(500)
            self.log_exception("%s %s: %s; answered 500" % (req.method, req.path, what), req.id)
