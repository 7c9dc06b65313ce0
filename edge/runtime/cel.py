"""CEL expressions, evaluated with cel-python and adjusted where it differs
from the cel-go that Dapr uses: numbers of different types compare by value
(JSON has one number type, so `event.data.price > 100` must work whether the
price is 150 or 150.5) and values of different types are simply unequal.
Used by pub/sub routing rules and circuit breakers' trip expressions."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import base_functions


@functools.cache
def env() -> celpy.Environment:
    # Built on first use: it takes a third of the sidecar's start-up time, and
    # most sidecars evaluate no CEL at all.
    return celpy.Environment()


_NUMBERS = (celtypes.IntType, celtypes.UintType, celtypes.DoubleType)


def _number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, celtypes.BoolType)


def _plain(value: Any) -> int | float:
    return float(value) if isinstance(value, celtypes.DoubleType) else int(value)


def _comparison(name: str, op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    base = base_functions[name]
    equality = name in ("_==_", "_!=_")

    def compare(a: Any, b: Any) -> Any:
        if _number(a) and _number(b):
            return celtypes.BoolType(op(_plain(a), _plain(b)))
        related = isinstance(a, type(b)) or isinstance(b, type(a))
        if equality and not related and not isinstance(a, Exception | type(None)) \
                and not isinstance(b, Exception | type(None)):
            return celtypes.BoolType(name == "_!=_")
        return base(a, b)

    return compare


FUNCTIONS = {name: _comparison(name, op) for name, op in (
    ("_==_", operator.eq), ("_!=_", operator.ne), ("_<_", operator.lt),
    ("_<=_", operator.le), ("_>_", operator.gt), ("_>=_", operator.ge))}


def compile_expression(text: str) -> Any:
    """A runnable program; raises celpy.CELParseError when the text is not CEL."""
    return env().program(env().compile(text), functions=FUNCTIONS)
