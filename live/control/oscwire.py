"""Bounded OSC parsing and address-pattern matching for input from the network.

Everything here costs at most a small multiple of the datagram's size, whatever the sender
puts in it:

- :func:`parse_packet` unpacks messages and bundles iteratively (no recursion, bundles nested
  at most ``MAX_DEPTH`` deep) and *counts* every malformed element (an empty or oversized
  element, a message with an unknown type tag) instead of logging it.
- :func:`match_addresses` matches an OSC 1.0 address pattern (``*``, ``?``, ``[a-z]``,
  ``[!abc]``, ``{zoom,hue}``) against the parameter table's addresses with a set-based
  matcher: time grows with pattern length times address length, never exponentially (a
  regular expression built from ``/live/*****************!`` backtracks for seconds). A pattern
  longer than ``MAX_PATTERN`` or not well formed matches nothing.
- :class:`RateLimitedLog`: every log line caused by the network goes through one of these, so
  a flood of bad packets costs a few lines and a count, not a flood of lines.

Standard library plus python-osc's message decoder.
"""
from __future__ import annotations

import logging
import time
from typing import Iterable, Sequence

MAX_DEPTH = 4             # bundles inside bundles
MAX_PATTERN = 256         # characters in an address pattern
MAX_ALTERNATIVES = 64     # words in one {a,b,c} group
_TYPE_TAGS = set("ifsbhdtTFNIcrm[]")
_PATTERN_CHARS = set("*?[]{}")


# -- packets -----------------------------------------------------------------------------------

def _valid_message(data: bytes) -> bool:
    """Cheap checks before python-osc decodes a message (it logs unknown type tags)."""
    end = data.find(b"\0")
    if end <= 0:
        return False
    tags_at = (end // 4 + 1) * 4
    if tags_at >= len(data):
        return True                          # no type tag string: an address-only message
    if data[tags_at:tags_at + 1] != b",":
        return False
    tags_end = data.find(b"\0", tags_at)
    if tags_end < 0:
        return False
    try:
        tags = data[tags_at + 1:tags_end].decode("ascii")
    except UnicodeDecodeError:
        return False
    return all(t in _TYPE_TAGS for t in tags)


def parse_packet(data: bytes) -> tuple[list, int, bool]:
    """``(messages, bad_elements, packet_ok)`` of one datagram.

    ``messages``: python-osc ``OscMessage`` objects in packet order. ``bad_elements``: malformed
    parts inside bundles (each empty, truncated or undecodable element counts once).
    ``packet_ok`` is False when the datagram itself is not OSC (not a message, not a bundle).
    """
    from pythonosc.osc_message import OscMessage

    messages: list = []
    bad = 0
    if not (data[:1] == b"/" or data[:8] == b"#bundle\0"):
        return messages, 0, False
    stack = [(data, 0)]
    top = True
    while stack:
        chunk, depth = stack.pop()
        if chunk[:1] == b"/":
            if _valid_message(chunk):
                try:
                    messages.append(OscMessage(chunk))
                    top = False
                    continue
                except Exception:  # noqa: BLE001 - any decoding problem is a bad element
                    pass
            if top:
                return messages, 0, False
            bad += 1
        elif chunk[:8] == b"#bundle\0" and depth < MAX_DEPTH and len(chunk) >= 16:
            top = False
            pos, n, elements = 16, len(chunk), []
            while pos < n:
                if pos + 4 > n:
                    bad += 1
                    break
                size = int.from_bytes(chunk[pos:pos + 4], "big", signed=True)
                pos += 4
                if size == 0:                  # an empty element: count it, go on
                    bad += 1
                    continue
                if size < 0 or pos + size > n:  # cannot find the next element: stop here
                    bad += 1
                    break
                elements.append((chunk[pos:pos + size], depth + 1))
                pos += size
            stack.extend(reversed(elements))
        else:
            if top:
                return messages, 0, False
            bad += 1
        top = False
    return messages, bad, True


# -- address patterns --------------------------------------------------------------------------

def is_pattern(address: str) -> bool:
    return any(c in _PATTERN_CHARS for c in address)


def _tokens(segment: str) -> list | None:
    """A pattern segment as tokens: ("c", char) | ("?",) | ("*",) | ("set", chars, negate) |
    ("alt", words). None when the segment is not a well-formed pattern."""
    out: list = []
    i, n = 0, len(segment)
    while i < n:
        c = segment[i]
        if c == "*":
            if not out or out[-1] != ("*",):       # ** = *
                out.append(("*",))
            i += 1
        elif c == "?":
            out.append(("?",))
            i += 1
        elif c == "[":
            j = segment.find("]", i + 1)
            if j < 0:
                return None
            body = segment[i + 1:j]
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            chars: set[str] = set()
            k = 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    lo, hi = body[k], body[k + 2]
                    if ord(hi) - ord(lo) > 256:
                        return None
                    chars.update(chr(x) for x in range(ord(lo), ord(hi) + 1))
                    k += 3
                else:
                    chars.add(body[k])
                    k += 1
            out.append(("set", frozenset(chars), negate))
            i = j + 1
        elif c == "{":
            j = segment.find("}", i + 1)
            if j < 0:
                return None
            words = segment[i + 1:j].split(",")
            if len(words) > MAX_ALTERNATIVES or any(_PATTERN_CHARS & set(w) for w in words):
                return None
            out.append(("alt", tuple(words)))
            i = j + 1
        elif c in "]}":
            return None
        else:
            out.append(("c", c))
            i += 1
    return out


def _match_segment(tokens: list, text: str) -> bool:
    """Set-based matcher: the set of reachable positions in ``text`` after each token."""
    n = len(text)
    reach = {0}
    for tok in tokens:
        kind = tok[0]
        if kind == "*":
            reach = set(range(min(reach), n + 1))
        elif kind == "c":
            ch = tok[1]
            reach = {j + 1 for j in reach if j < n and text[j] == ch}
        elif kind == "?":
            reach = {j + 1 for j in reach if j < n}
        elif kind == "set":
            chars, negate = tok[1], tok[2]
            reach = {j + 1 for j in reach if j < n and ((text[j] in chars) != negate)}
        else:   # alt
            reach = {j + len(w) for j in reach for w in tok[1] if text.startswith(w, j)}
        if not reach:
            return False
    return n in reach


def match_addresses(pattern: str, addresses: Iterable[str]) -> list[str]:
    """The addresses (in their order) that OSC address pattern ``pattern`` matches.
    An over-long or malformed pattern matches nothing."""
    if len(pattern) > MAX_PATTERN or not pattern.startswith("/"):
        return []
    segs = pattern.split("/")
    compiled = [_tokens(s) for s in segs]
    if any(t is None for t in compiled):
        return []
    out = []
    for addr in addresses:
        parts = addr.split("/")
        if len(parts) == len(segs) and all(_match_segment(t, p) for t, p in zip(compiled, parts)):
            out.append(addr)
    return out


# -- logging -----------------------------------------------------------------------------------

class RateLimitedLog:
    """Log lines caused by the network: each key once (up to ``max_keys`` keys), and at most
    ``burst`` lines per ``window_s`` in all; what is held back is counted and reported in one
    line when the next window opens. Thread-safe enough for one network thread."""

    def __init__(self, logger: logging.Logger, *, burst: int = 10, window_s: float = 10.0,
                 max_keys: int = 256, clock=time.monotonic):
        self.logger = logger
        self.burst, self.window_s, self.max_keys = int(burst), float(window_s), int(max_keys)
        self.clock = clock
        self.seen: set[str] = set()
        self.suppressed = 0          # lines held back in all (for tests and reports)
        self._window_start = -1e18
        self._in_window = 0
        self._held = 0

    def _allow(self) -> bool:
        now = self.clock()
        if now - self._window_start >= self.window_s:
            if self._held:
                self.logger.warning("OSC: %d more log lines from the network held back in the last %.0f s "
                                    "(see the OSC counters)", self._held, self.window_s)
            self._window_start, self._in_window, self._held = now, 0, 0
        if self._in_window >= self.burst:
            self._held += 1
            self.suppressed += 1
            return False
        self._in_window += 1
        return True

    def __call__(self, key: str | None, msg: str, *args, level: int = logging.WARNING, exc_info=False) -> None:
        """Log ``msg % args`` unless ``key`` was logged before (None: no once-only) or the rate is spent."""
        if key is not None:
            if key in self.seen or len(self.seen) >= self.max_keys:
                return
            self.seen.add(key)
        if self._allow():
            self.logger.log(level, msg, *args, exc_info=exc_info)


def table_addresses(params: Sequence) -> list[str]:
    return [p.address for p in params]
