"""The JSON of a line per row gives the text ``json`` gives, and reads what ``json.loads`` reads."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from include.jsonlines import decode_line, line_encoder, many_encoder

VALUES = [
    None,
    True,
    False,
    0,
    -7,
    12345678901234567890,
    1.5,
    -0.0,
    1e300,
    math.inf,
    -math.inf,
    "",
    "Zoë Łódź 東京 🙂",
    'quote " backslash \\ newline \n tab \t nul \x00 line sep \u2028',
    "<b>&'</b>",
    [1, "a", None, [2.5, {"k": "v"}]],
    {"z": 1, "a": [True, None], "é": "ü"},
    {"q": "page_views", "v": {"page": "/", "at": "2024-09-21T06:14:00"}},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_line_encoder_writes_what_json_writes(value):
    assert line_encoder()(value) == json.JSONEncoder(ensure_ascii=False).encode(value)
    assert line_encoder(default=str)(value) == json.JSONEncoder(ensure_ascii=False, default=str).encode(value)


def test_line_encoder_with_default_writes_what_json_writes_for_other_types():
    row = [datetime(2026, 1, 2, tzinfo=UTC), Decimal("19.990"), b"\x00", {1, 2} - {1, 2}]
    assert line_encoder(default=str)(row) == json.JSONEncoder(ensure_ascii=False, default=str).encode(row)
    with pytest.raises(TypeError):
        line_encoder()(row)


def test_many_encoder_writes_what_json_writes_for_each_value():
    other = [datetime(2026, 1, 2, tzinfo=UTC), Decimal("19.990"), b"\x00"]
    assert many_encoder()(VALUES) == [json.JSONEncoder(ensure_ascii=False).encode(v) for v in VALUES]
    assert many_encoder(default=str)([*VALUES, other]) == [
        json.JSONEncoder(ensure_ascii=False, default=str).encode(v) for v in [*VALUES, other]
    ]
    assert many_encoder()(iter([])) == []
    with pytest.raises(TypeError):
        many_encoder()([other])


def test_nan_is_written_as_json_writes_it():
    assert line_encoder()([math.nan]) == json.JSONEncoder(ensure_ascii=False).encode([math.nan]) == "[NaN]"


@pytest.mark.parametrize(
    "line", ['{"q": "a", "v": {"x": 1}}\n', '{"q": "a"}', '  {"q": "a"}\n', "[1, 2]  \r\n", '"x"\n', "3\n"]
)
def test_decode_line_reads_what_json_loads_reads(line):
    assert decode_line(line) == json.loads(line)


@pytest.mark.parametrize("line", ['{"q": "a"} {"q": "b"}\n', '{"q": "a"}x', "", "\n", '{"q": '])
def test_decode_line_refuses_what_json_loads_refuses(line):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(line)
    with pytest.raises(json.JSONDecodeError) as raised:
        decode_line(line)
    assert raised.value.msg == expected.value.msg


def test_decode_line_refuses_what_is_not_json_whitespace_after_the_value():
    with pytest.raises(json.JSONDecodeError, match="Extra data"):
        decode_line('{"q": "a"}\x0c\n')
