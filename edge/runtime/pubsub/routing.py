"""Routing rules: CEL expressions over the event (edge.runtime.cel), tried in order."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celtypes

from edge.runtime.cel import compile_expression

log = logging.getLogger("edge.runtime.pubsub")


class RuleError(ValueError):
    """A match expression that is not valid CEL."""


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
        program = compile_expression(text)
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
