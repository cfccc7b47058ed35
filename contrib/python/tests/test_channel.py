import os
import unittest

from support import Pipes, frame, request

from uhw import pb
from uhw.channel import Channel, ProtocolError, max_frame_from_env


class ChannelTest(unittest.TestCase):
    def setUp(self):
        self.p = Pipes()
        self.ch = self.p.channel

    def tearDown(self):
        self.p.close()

    def test_frame_split_at_any_byte(self):
        """a frame split at any byte is returned whole, once, and only when complete"""
        msg = pb.ToWorker(request=request(id=300, path="/split", body=b"b" * 200,
                                          headers=[("host", b"h")]))
        data = frame(msg)
        self.assertGreater(len(data), 128)            # a two-byte length prefix
        for cut in range(1, len(data)):
            self.p.feed(data[:cut])
            self.assertEqual(self.ch.recv_ready(), [], "cut at %d" % cut)
            self.p.feed(data[cut:])
            self.assertEqual(self.ch.recv_ready(), [msg], "cut at %d" % cut)

    def test_byte_by_byte_blocking(self):
        """recv() assembles a frame that arrives one byte per read"""
        msg = pb.ToWorker(cancel=pb.Cancel(id=7, reason=pb.Cancel.TIMEOUT))
        data = frame(msg)
        for i in range(len(data) - 1):
            self.p.feed(data[i:i + 1])
            self.assertEqual(self.ch.recv_ready(), [])
        self.p.feed(data[-1:])
        self.assertEqual(self.ch.recv(), msg)

    def test_several_frames_in_one_read(self):
        msgs = [pb.ToWorker(request=request(id=i)) for i in range(1, 4)] + \
               [pb.ToWorker(shutdown=pb.Shutdown(grace_ms=5))]
        self.p.feed(b"".join(frame(m) for m in msgs))
        self.p.end_input()
        self.assertEqual([self.ch.recv() for _ in range(4)], msgs)
        self.assertIsNone(self.ch.recv())
        self.assertTrue(self.ch.eof)

    def test_large_frame(self):
        """a frame larger than one read (a big request body) arrives intact"""
        body = os.urandom(600 * 1024)
        msg = pb.ToWorker(request=request(id=9, method="POST", body=body))
        self.p.feed(frame(msg))
        self.assertEqual(self.ch.recv().request.body, body)

    def test_empty_message(self):
        """a zero-length frame is a valid (empty) message"""
        self.p.feed(b"\x00" + frame(pb.ToWorker(cancel=pb.Cancel(id=1))))
        self.assertEqual(self.ch.recv(), pb.ToWorker())
        self.assertEqual(self.ch.recv().cancel.id, 1)

    def test_eof_inside_a_frame(self):
        self.p.feed(frame(pb.ToWorker(request=request()))[:-1])
        self.p.end_input()
        with self.assertRaises(ProtocolError):
            self.ch.recv()

    def test_invalid_length_prefix(self):
        self.p.feed(b"\xff" * 11)
        with self.assertRaises(ProtocolError):
            self.ch.recv()

    def test_send_is_one_frame_per_message(self):
        ready = pb.FromWorker(ready=pb.Ready(protocol=1, concurrency=1, info="t"))
        log = pb.FromWorker(log=pb.Log(level=pb.Log.ERROR, message="m", id=3))
        self.ch.send(ready, log)
        self.assertEqual(self.p.written(), [ready, log])

    def test_max_frame_from_env(self):
        self.assertEqual(max_frame_from_env({"UHW_MAX_FRAME": "1024"}), 1024)
        self.assertEqual(max_frame_from_env({}), 16 * 1024 * 1024)
        self.assertEqual(max_frame_from_env({"UHW_MAX_FRAME": "junk"}), 16 * 1024 * 1024)
        self.assertEqual(Channel(0, 1, max_frame=77).max_frame, 77)


if __name__ == "__main__":
    unittest.main()
