"""Reading `kind: Resiliency` resources (dapr.io/v1alpha1) into named policies
and targets. Wrong types and references to undefined policies fail the start
with the file and field named; a malformed entry in a status-code list is
logged and skipped, as Dapr documents."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import celpy

from edge.components.metadata import parse_duration
from edge.errors import ConfigError
from edge.runtime.cel import compile_expression
from edge.runtime.config import Reader

log = logging.getLogger("edge.runtime.resiliency")

CONSTANT, EXPONENTIAL = "constant", "exponential"
# Dapr's default trip expression.
DEFAULT_TRIP = "consecutiveFailures > 5"
BREAKER_SCOPES = ("id", "type", "both")


@dataclass(frozen=True)
class RetrySpec:
    name: str
    policy: str = CONSTANT
    duration: float = 5.0
    initial_interval: float = 0.5
    max_interval: float = 60.0
    max_elapsed: float = 0.0  # 0: no limit
    multiplier: float = 1.5
    randomization: float = 0.5
    max_retries: int = -1  # -1: no limit, Dapr's default
    http_codes: frozenset[int] | None = None  # None: every failure is retried
    grpc_codes: frozenset[int] | None = None


@dataclass(frozen=True)
class BreakerSpec:
    name: str
    max_requests: int = 1
    interval: float = 0.0
    timeout: float = 60.0
    trip: str = DEFAULT_TRIP
    program: Any = None


@dataclass(frozen=True)
class TargetNames:
    """The named policies one target refers to; empty means none."""

    timeout: str = ""
    retry: str = ""
    circuit_breaker: str = ""
    breaker_scope: str = "id"  # actors only
    cache_size: int = 0


@dataclass
class ResiliencyResource:
    name: str
    file: str
    timeouts: dict[str, float] = field(default_factory=dict)
    retries: dict[str, RetrySpec] = field(default_factory=dict)
    breakers: dict[str, BreakerSpec] = field(default_factory=dict)
    apps: dict[str, TargetNames] = field(default_factory=dict)
    actors: dict[str, TargetNames] = field(default_factory=dict)
    inbound: dict[str, TargetNames] = field(default_factory=dict)
    outbound: dict[str, TargetNames] = field(default_factory=dict)


class _Read:
    def __init__(self, file: str, name: str) -> None:
        self.r = Reader(file, what="resiliency file")
        self.file = file
        self.name = name

    def fail(self, path: str, reason: str) -> ConfigError:
        return ConfigError(f"Resiliency {self.name!r}: {reason}", file=self.file, field=path)

    def duration(self, parent: dict[str, Any], key: str, path: str, default: float) -> float:
        raw = self.r.string(parent, key, path)
        if not raw:
            return default
        try:
            value = parse_duration(raw)
        except ValueError:
            raise self.fail(f"{path}.{key}", f"{raw!r} is not a duration like 500ms, 5s "
                            "or 1m30s") from None
        if value < 0:
            raise self.fail(f"{path}.{key}", f"{raw!r} is negative")
        return value

    def number(self, parent: dict[str, Any], key: str, path: str, default: float,
               integer: bool = False) -> Any:
        raw = self.r.string(parent, key, path)
        if not raw:
            return default
        try:
            return int(raw) if integer else float(raw)
        except ValueError:
            kind = "a whole number" if integer else "a number"
            raise self.fail(f"{path}.{key}", f"must be {kind}, not {raw!r}") from None

    def codes(self, parent: dict[str, Any], key: str, path: str,
              low: int, high: int) -> frozenset[int] | None:
        raw = self.r.string(parent, key, path)
        if not raw.strip():
            return None
        found: set[int] = set()
        for entry in (e.strip() for e in raw.split(",")):
            if entry:
                found |= self._code_entry(entry, f"{path}.{key}", low, high)
        return frozenset(found)

    def _code_entry(self, entry: str, where: str, low: int, high: int) -> set[int]:
        parts = entry.split("-")
        try:
            if len(parts) == 1:
                first = last = int(parts[0])
            elif len(parts) == 2:
                first, last = int(parts[0]), int(parts[1])
            else:
                raise ValueError
        except ValueError:
            first, last = 0, -1
        if not low <= first <= last <= high:
            log.error("resiliency file %s: Resiliency %r: %s: %r is not a code or range "
                      "from %d to %d; that entry is ignored", self.file, self.name, where,
                      entry, low, high)
            return set()
        return set(range(first, last + 1))


def parse_resiliency(doc: dict[str, Any], file: str) -> ResiliencyResource:
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    name = str(meta.get("name") or "")
    if not name:
        raise ConfigError("a Resiliency needs metadata.name", file=file, field="metadata.name")
    read = _Read(file, name)
    try:
        spec = read.r.mapping(doc.get("spec"), "spec")
        read.r.warn_unknown(spec, "spec", ("policies", "targets"))
        resource = ResiliencyResource(name, file)
        policies = read.r.section(spec, "policies", "spec",
                                  ("timeouts", "retries", "circuitBreakers"))
        _policies(read, policies, resource)
        targets = read.r.section(spec, "targets", "spec", ("apps", "actors", "components"))
        _targets(read, targets, resource)
    except ConfigError as exc:
        if exc.reason.startswith("Resiliency "):
            raise
        raise read.fail(exc.field or "", exc.reason) from None
    return resource


def _policies(read: _Read, policies: dict[str, Any], resource: ResiliencyResource) -> None:
    path = "spec.policies"
    timeouts = read.r.mapping(policies.get("timeouts"), f"{path}.timeouts")
    for name in timeouts:
        resource.timeouts[str(name)] = read.duration(timeouts, name, f"{path}.timeouts", 0.0)
    retries = read.r.mapping(policies.get("retries"), f"{path}.retries")
    for name, body in retries.items():
        resource.retries[str(name)] = _retry(read, str(name), body, f"{path}.retries.{name}")
    breakers = read.r.mapping(policies.get("circuitBreakers"), f"{path}.circuitBreakers")
    for name, body in breakers.items():
        resource.breakers[str(name)] = _breaker(read, str(name), body,
                                                f"{path}.circuitBreakers.{name}")


_RETRY_FIELDS = ("policy", "duration", "maxInterval", "maxRetries", "matching", "initialInterval",
                 "maxElapsedTime", "multiplier", "randomizationFactor")


def _retry(read: _Read, name: str, body: Any, path: str) -> RetrySpec:
    found = read.r.mapping(body, path)
    read.r.warn_unknown(found, path, _RETRY_FIELDS)
    policy = read.r.string(found, "policy", path, CONSTANT).lower()
    if policy not in (CONSTANT, EXPONENTIAL):
        raise read.fail(f"{path}.policy", f"must be constant or exponential, not {policy!r}")
    matching = read.r.section(found, "matching", path, ("httpStatusCodes", "gRPCStatusCodes"))
    max_retries = read.number(found, "maxRetries", path, -1, integer=True)
    if max_retries < -1:
        raise read.fail(f"{path}.maxRetries", "must be -1 (no limit), 0 or more")
    return RetrySpec(
        name=name, policy=policy,
        duration=read.duration(found, "duration", path, 5.0),
        initial_interval=read.duration(found, "initialInterval", path, 0.5),
        max_interval=read.duration(found, "maxInterval", path, 60.0),
        max_elapsed=read.duration(found, "maxElapsedTime", path, 0.0),
        multiplier=read.number(found, "multiplier", path, 1.5),
        randomization=min(max(read.number(found, "randomizationFactor", path, 0.5), 0.0), 1.0),
        max_retries=max_retries,
        http_codes=read.codes(matching, "httpStatusCodes", f"{path}.matching", 100, 599),
        grpc_codes=read.codes(matching, "gRPCStatusCodes", f"{path}.matching", 0, 16),
    )


def _breaker(read: _Read, name: str, body: Any, path: str) -> BreakerSpec:
    found = read.r.mapping(body, path)
    read.r.warn_unknown(found, path, ("maxRequests", "interval", "timeout", "trip"))
    trip = read.r.string(found, "trip", path, DEFAULT_TRIP).strip() or DEFAULT_TRIP
    try:
        program = compile_expression(trip)
    except celpy.CELParseError:
        raise read.fail(f"{path}.trip", f"{trip!r} is not a CEL expression like "
                        "consecutiveFailures > 5") from None
    max_requests = read.number(found, "maxRequests", path, 1, integer=True)
    return BreakerSpec(name=name, max_requests=max(max_requests, 1),
                       interval=read.duration(found, "interval", path, 0.0),
                       timeout=read.duration(found, "timeout", path, 60.0),
                       trip=trip, program=program)


_TARGET_FIELDS = ("timeout", "retry", "circuitBreaker")


def _names(read: _Read, resource: ResiliencyResource, body: Any, path: str,
           actor: bool = False) -> TargetNames:
    found = read.r.mapping(body, path)
    known = (*_TARGET_FIELDS, "circuitBreakerScope", "circuitBreakerCacheSize") if actor \
        else (*_TARGET_FIELDS, "circuitBreakerCacheSize")
    read.r.warn_unknown(found, path, known)
    names = TargetNames(
        timeout=read.r.string(found, "timeout", path), retry=read.r.string(found, "retry", path),
        circuit_breaker=read.r.string(found, "circuitBreaker", path),
        breaker_scope=read.r.string(found, "circuitBreakerScope", path, "").lower(),
        cache_size=read.number(found, "circuitBreakerCacheSize", path, 0, integer=True))
    for key, value, known_names in (("timeout", names.timeout, resource.timeouts),
                                    ("retry", names.retry, resource.retries),
                                    ("circuitBreaker", names.circuit_breaker, resource.breakers)):
        if value and value not in known_names:
            raise read.fail(f"{path}.{key}", f"names no {key} policy {value!r} under "
                            "spec.policies")
    if actor and names.circuit_breaker and names.breaker_scope not in BREAKER_SCOPES:
        raise read.fail(f"{path}.circuitBreakerScope", "an actor circuit breaker needs a scope: "
                        "id, type or both")
    return names


def _targets(read: _Read, targets: dict[str, Any], resource: ResiliencyResource) -> None:
    path = "spec.targets"
    apps = read.r.mapping(targets.get("apps"), f"{path}.apps")
    for app, body in apps.items():
        resource.apps[str(app)] = _names(read, resource, body, f"{path}.apps.{app}")
    actors = read.r.mapping(targets.get("actors"), f"{path}.actors")
    for actor_type, body in actors.items():
        resource.actors[str(actor_type)] = _names(read, resource, body,
                                                  f"{path}.actors.{actor_type}", actor=True)
    components = read.r.mapping(targets.get("components"), f"{path}.components")
    for component, body in components.items():
        where = f"{path}.components.{component}"
        found = read.r.mapping(body, where)
        read.r.warn_unknown(found, where, ("inbound", "outbound"))
        for direction, into in (("inbound", resource.inbound), ("outbound", resource.outbound)):
            if found.get(direction) is not None:
                into[str(component)] = _names(read, resource, found[direction],
                                              f"{where}.{direction}")


def in_scope(doc: dict[str, Any], app_id: str) -> bool:
    scopes = doc.get("scopes")
    return not scopes or (isinstance(scopes, list) and app_id in [str(s) for s in scopes])
