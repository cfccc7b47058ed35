"""What a worker may put in a response: the rules of proto/rules.h, checked before a frame
is sent. uhw kills a worker that breaks them (and answers 502); an SDK refuses instead, so
one application's mistake costs one request a 500, not the worker and its other requests.

    status   200..599 (1xx is the HTTP server's business)
    name     a non-empty HTTP token (RFC 9110 section 5.1), not hop-by-hop
    value    no control bytes except HTAB (so no CR, LF, NUL, DEL)
"""
import re

# Headers about one connection, which uhw manages: an application that sets one (often a
# framework's default "Connection: close") has it dropped with a log line, not refused.
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "transfer-encoding",
                        "te", "trailer", "upgrade"))

_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z").match
_control = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]").search


class ResponseError(ValueError):
    """A status or header uhw would refuse."""


def check_status(status):
    """The status as an int in 200..599, or ResponseError."""
    if type(status) is not int or not 200 <= status <= 599:
        raise ResponseError("status %r is not one uhw accepts (200..599)" % (status,))
    return status


def header_problem(name, value):
    """Why the header (name: str, value: bytes) may not be sent, or None when it may."""
    if not name:
        return "empty header name"
    if not _token(name):
        return "header name %r has a character not allowed in HTTP" % name
    if _control(value):
        return "header %s: value %r has a control character" % (name, value[:60])
    return None


def check_headers(pairs, to_bytes):
    """Checks response headers [(name: str, value)], turning each value into bytes with
    to_bytes. Returns ([(name, value bytes)], [names of hop-by-hop headers left out]);
    raises ResponseError for anything else uhw would refuse."""
    out, dropped = [], []
    for name, value in pairs:
        if type(name) is not str:
            raise ResponseError("header name %r is not a string" % (name,))
        if name.lower() in HOP_BY_HOP:
            dropped.append(name)
            continue
        try:
            value = to_bytes(value)
        except (TypeError, AttributeError, UnicodeError) as e:
            raise ResponseError("header %s: value %r cannot be sent (%s)" % (name, value, e)) from None
        problem = header_problem(name, value)
        if problem is not None:
            raise ResponseError(problem)
        out.append((name, value))
    return out, dropped
