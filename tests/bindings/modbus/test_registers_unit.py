"""The `registers` syntax of bindings.modbus."""

from __future__ import annotations

import pytest

from edge.components.bindings.modbus import Range, parse_registers
from edge.errors import ConfigError


def test_ranges_and_single_addresses():
    assert parse_registers("holding:0-3, coil:10,INPUT:5 ,discrete:2-4,") == [
        Range("holding", 0, 4), Range("coil", 10, 1), Range("input", 5, 1),
        Range("discrete", 2, 3)]
    assert parse_registers("") == []


@pytest.mark.parametrize("text, reason", [
    ("holding", "is not kind:address"),
    ("register:1", "is not one of"),
    ("holding:5-2", "count 1-125"),
    ("holding:0-125", "count 1-125"),
    ("coil:0-1999", None),
    ("input:65536", "address must be 0-65535"),
])
def test_invalid_declarations(text, reason):
    if reason is None:
        assert parse_registers(text) == [Range("coil", 0, 2000)]
        return
    with pytest.raises(ConfigError, match=reason) as raised:
        parse_registers(text)
    assert raised.value.field == "registers"
