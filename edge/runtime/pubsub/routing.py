"""Routing rules: CEL expressions over the event, tried in order.

Evaluated with cel-python, adjusted where it differs from the cel-go that
Dapr uses: numbers of different types compare by value (JSON has one number
type, so `event.data.price > 100` must work whether the price is 150 or
150.5) and values of different types are simply unequal."""

from __future__ import annotations

import functools
import logging
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celtypes
from celpy.evaluation import base_functions

log = logging.getLogger("edge.runtime.pubsub")



@functools.cache
def _env() -> celpy.Environment:
    # Built on first use: it takes a third of the sidecar's start-up time, and
    # most sidecars have no routing rules.
    return celpy.Environment()

_NUMBERS = (celtypes.IntType, celtypes.UintType, celtypes.DoubleType)


class RuleError(ValueError):
    """A match expression that is not valid CEL."""


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


_FUNCTIONS = {name: _comparison(name, op) for name, op in (
    ("_==_", operator.eq), ("_!=_", operator.ne), ("_<_", operator.lt),
    ("_<=_", operator.le), ("_>_", operator.gt), ("_>=_", operator.ge))}


@dataclass(frozen=True)
class Rule:
    match: str
    path: str
    program: Any = None  # None: matches every event

    def describe(self) -> dict[str, str]:
        """The rule as /v1.0/metadata lists it (empty members left out)."""
        return {k: v for k, v in (("match", self.match), ("path", self.path)) if v}


def compile_rule(match: str, path: str) -> Rule:
    text = (match or "").strip()
    if not text:
        return Rule("", path)
    try:
        env = _env()
        program = env.program(env.compile(text), functions=_FUNCTIONS)
    except celpy.CELParseError as exc:
        where = f" (line {exc.line}, column {exc.column})" if getattr(exc, "line", None) else ""
        raise RuleError(f"match {text!r} is not a valid CEL expression{where}") from None
    return Rule(text, path, program)


def _short(exc: Exception) -> str:
    # cel-python's messages can quote the whole evaluation context.
    text = str(exc.args[0]) if exc.args else str(exc)
    return text if len(text) <= 200 else text[:200] + "..."


def _activation(event: Mapping[str, Any]) -> dict[str, Any]:
    """The rules' view of the event; empty when CEL cannot hold it (an
    integer beyond 64 bits), in which case no rule with a match applies."""
    try:
        return {"event": celpy.json_to_cel(dict(event))}
    except (ValueError, TypeError) as exc:
        log.debug("event %s cannot be matched by rules: %s", event.get("id"), exc)
        return {}


def find_route(rules: list[Rule], event: Mapping[str, Any]) -> str | None:
    """The path of the first rule the event matches; None when none does.

    A rule that cannot be evaluated for this event (a member it reads is
    missing) counts as not matching, so later rules still get their turn."""
    activation: dict[str, Any] | None = None
    for rule in rules:
        if rule.program is None:
            return rule.path
        if activation is None:
            activation = _activation(event)
        if not activation:
            continue
        try:
            result = rule.program.evaluate(activation)
        except celpy.CELEvalError as exc:
            log.debug("rule %r does not apply to event %s: %s", rule.match, event.get("id"),
                      _short(exc))
            continue
        if not isinstance(result, celtypes.BoolType):
            log.warning("rule %r gave %r, not true or false; skipped", rule.match, result)
            continue
        if result:
            return rule.path
    return None
