import unittest

from uhw.rules import ResponseError, check_headers, check_status, header_problem


def latin1(v):
    return v.encode("latin-1")


class RulesTest(unittest.TestCase):
    def test_status(self):
        for ok in (200, 204, 404, 599):
            self.assertEqual(check_status(ok), ok)
        for bad in (0, 100, 199, 600, "200", None, 200.0):
            with self.assertRaises(ResponseError, msg=repr(bad)):
                check_status(bad)

    def test_header_names_are_tokens(self):
        self.assertIsNone(header_problem("X-Custom_1.a~!#$%&'*+^`|", b"v"))
        for bad in ("", "X Space", "X:Colon", "X\r\nY", "Ümlaut", "X(paren)"):
            self.assertIsNotNone(header_problem(bad, b"v"), repr(bad))

    def test_header_values(self):
        """no control bytes but HTAB; obs-text (>= 0x80) is allowed"""
        self.assertIsNone(header_problem("X", b"a\tb \x80\xff"))
        for bad in (b"a\r\nb", b"a\nb", b"a\rb", b"\x00", b"\x7f", b"\x1b[31m"):
            self.assertIsNotNone(header_problem("X", bad), repr(bad))

    def test_hop_by_hop_are_dropped(self):
        checked, dropped = check_headers([("Content-Type", "text/plain"), ("Connection", "close"),
                                          ("transfer-encoding", "chunked"), ("Keep-Alive", "5"),
                                          ("TE", "trailers"), ("Upgrade", "h2c"), ("Trailer", "x"),
                                          ("Proxy-Connection", "keep-alive")], latin1)
        self.assertEqual(checked, [("Content-Type", b"text/plain")])
        self.assertEqual(len(dropped), 7)

    def test_other_violations_raise(self):
        for pairs in ([("X-Bad", "a\r\nX-Injected: 1")], [("Bad Name", "v")], [(b"X", "v")],
                      [("X", "\u20ac")], [("X", None)]):
            with self.assertRaises(ResponseError, msg=repr(pairs)):
                check_headers(pairs, latin1)


if __name__ == "__main__":
    unittest.main()
