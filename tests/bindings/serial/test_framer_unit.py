"""The framing rules of bindings.serial, without a port."""

from __future__ import annotations

import pytest

from edge.components.bindings.serial import Framer, _delimiter
from edge.errors import ConfigError


def test_delimiter_frames_keep_partial_data_and_skip_empty_ones():
    framer = Framer(b"\r\n", 0)
    assert framer.feed(b"a\r") == []
    assert framer.feed(b"\nb\r\n\r\nc") == [b"a", b"b"]
    assert framer.drop() == b"c"
    assert framer.feed(b"d\r\n") == [b"d"]


def test_fixed_length_frames():
    framer = Framer(b"", 3)
    assert framer.feed(b"12345") == [b"123"]
    assert framer.feed(b"6789") == [b"456", b"789"]


def test_overlong_data_without_delimiter_is_dropped():
    framer = Framer(b"\n", 0)
    assert framer.feed(b"x" * (64 * 1024 + 1)) == []
    assert framer.feed(b"ok\n") == [b"ok"]


def test_delimiter_escapes():
    assert _delimiter("\\r\\n") == b"\r\n"
    assert _delimiter("\\x03") == b"\x03"
    assert _delimiter(";") == b";"
    with pytest.raises(ConfigError):
        _delimiter("")
