"""JSON for a line per row (extraction's files, ``report.json``'s rows): encoding and decoding without the per-call
set-up of ``json.dumps`` / ``json.loads``.

``JSONEncoder.encode`` builds a new C encoder on every call and ``json.loads`` matches whitespace twice around the
C scanner: about 1 µs a row each, as much as the encoding or decoding itself (docs/benchmarks.md, "Big subject").
The text is the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from json import encoder as _json_encoder
from typing import Any

#: A decoder for every line (``raw_decode``: a line is one object; what follows it is checked in ``decode_line``).
_DECODER = json.JSONDecoder()


def line_encoder(default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """``json.JSONEncoder(ensure_ascii=False, default=default).encode``: the same text, with the C encoder made once
    (no circular-reference check: a row's values hold no references to themselves)."""
    python = json.JSONEncoder(ensure_ascii=False, default=default)
    make = getattr(_json_encoder, "c_make_encoder", None)  # None on an interpreter without the C accelerator
    if make is None:
        return python.encode
    try:
        encode = make(None, python.default, _json_encoder.encode_basestring, None, ": ", ", ", False, False, True)
    except TypeError:  # another signature: what json itself does is always right
        return python.encode

    def encoded(value: Any) -> str:
        return "".join(encode(value, 0))

    return encoded


def many_encoder(default: Callable[[Any], Any] | None = None) -> Callable[[Iterable[Any]], list[str]]:
    """``line_encoder(default)`` applied to each of many values (a batch of rows): the C encoder called from one
    list comprehension, without a Python call per value."""
    python = json.JSONEncoder(ensure_ascii=False, default=default)
    make = getattr(_json_encoder, "c_make_encoder", None)
    encode = None
    if make is not None:
        try:
            encode = make(None, python.default, _json_encoder.encode_basestring, None, ": ", ", ", False, False, True)
        except TypeError:
            encode = None
    if encode is None:
        one = python.encode
        return lambda values: [one(value) for value in values]
    join = "".join

    def encoded(values: Iterable[Any]) -> list[str]:
        return [join(encode(value, 0)) for value in values]

    return encoded


def decode_line(line: str) -> Any:
    """``json.loads(line)`` for a line of one JSON value (and its newline)."""
    try:
        value, end = _DECODER.raw_decode(line)
    except json.JSONDecodeError:
        return json.loads(line)  # leading whitespace: loads skips it (or raises the same error)
    if end != len(line) and line[end:].strip(" \t\n\r"):  # JSON's whitespace only
        return json.loads(line)  # raises "Extra data", as before
    return value
