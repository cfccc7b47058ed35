import json
import unittest

from support import Pipes, answer, kinds

from uhw.responder import Responder
from uhw.rules import ResponseError

H = [("Content-Type", b"text/plain")]


class ResponderTest(unittest.TestCase):
    def setUp(self):
        self.p = Pipes()

    def tearDown(self):
        self.p.close()

    def responder(self, id=5):
        r = Responder(self.p.channel, id)
        r.set_head(201, H)
        return r

    def test_one_piece_is_one_response(self):
        r = self.responder()
        r.write(b"hello")
        self.assertEqual(self.p.written(), [], "held until the body ends or a second piece comes")
        r.finish()
        msgs = self.p.written()
        self.assertEqual(kinds(msgs), ["response"])
        self.assertEqual((msgs[0].response.id, msgs[0].response.status, msgs[0].response.body), (5, 201, b"hello"))
        self.assertEqual([(h.name, h.value) for h in msgs[0].response.headers], H)

    def test_no_piece_is_an_empty_response(self):
        r = self.responder()
        r.finish()
        self.assertEqual(answer(self.p.written()), (201, {"Content-Type": b"text/plain"}, b"", ["response"]))

    def test_second_piece_starts_a_stream(self):
        r = self.responder()
        r.write(b"a")
        r.write(b"b")
        self.assertEqual(kinds(self.p.written()), ["stream_start", "stream_data", "stream_data"])
        self.assertTrue(r.on_wire)
        r.write(b"c")
        self.assertEqual(kinds(self.p.written()), ["stream_data"], "later pieces go out at once")
        r.finish()
        self.assertEqual(kinds(self.p.written()), ["stream_end"])

    def test_stream_true_streams_from_the_first_piece(self):
        r = Responder(self.p.channel, 5)
        r.set_head(200, [("Content-Type", b"text/event-stream")], stream=True)
        r.write(b"data: 1\n\n")
        msgs = self.p.written()
        self.assertEqual(kinds(msgs), ["stream_start", "stream_data"])
        r.finish()
        self.assertEqual(kinds(self.p.written()), ["stream_end"])

    def test_no_frame_exceeds_max_frame(self):
        """a body larger than UHW_MAX_FRAME is streamed in pieces that fit"""
        p = Pipes(max_frame=1000)
        try:
            r = Responder(p.channel, 5)
            r.set_head(200, H)
            r.write(b"x" * 5000)
            r.finish()
            msgs = p.written()
            self.assertEqual(answer(msgs)[2], b"x" * 5000)
            self.assertEqual(kinds(msgs)[0], "stream_start")
            self.assertEqual(kinds(msgs)[-1], "stream_end")
            self.assertTrue(all(len(m.SerializeToString()) < 1000 for m in msgs))
        finally:
            p.close()

    def test_headers_larger_than_max_frame_are_refused(self):
        p = Pipes(max_frame=1024)
        try:
            r = Responder(p.channel, 5)
            r.set_head(200, [("X-Big", b"v" * 2000)])
            r.write(b"x")
            with self.assertRaises(ResponseError):
                r.finish()
            with self.assertRaises(ResponseError):
                r.write(b"y")                      # would start a stream
            self.assertEqual(p.written(), [])
            self.assertFalse(r.abort("x"), "nothing started: no StreamEnd without StreamStart")
            r.fail(500)
            self.assertEqual(answer(p.written())[0], 500)
        finally:
            p.close()

    def test_set_head_again_drops_what_was_held(self):
        r = self.responder()
        r.write(b"partial page")
        r.set_head(500, [("Content-Type", b"text/plain")])
        r.write(b"error page")
        r.finish()
        self.assertEqual(answer(self.p.written())[::2], (500, b"error page"))

    def test_abort_a_stream(self):
        r = self.responder()
        r.write(b"a")
        self.assertFalse(r.abort("boom"), "nothing sent: the caller can still answer 500")
        r.write(b"b")
        self.assertTrue(r.abort("boom"))
        msgs = self.p.written()
        self.assertEqual(kinds(msgs)[-1], "stream_end")
        self.assertEqual(msgs[-1].stream_end.error, "boom")

    def test_fail_answers_json_500(self):
        r = self.responder(id=8)
        r.write(b"held")
        r.fail(500)
        status, headers, body, seen = answer(self.p.written())
        self.assertEqual((status, seen), (500, ["response"]))
        self.assertEqual(headers["Content-Type"], b"application/json")
        self.assertEqual(json.loads(body), {"error": "Internal Server Error", "request_id": 8})


if __name__ == "__main__":
    unittest.main()
