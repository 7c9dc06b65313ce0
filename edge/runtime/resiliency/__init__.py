"""Resiliency: the policies of the `kind: Resiliency` resources, looked up per
operation as Dapr resolves them. A target named under `targets` gets exactly
the policies it names; any other gets the most specific `Default...Policy`
there is (for a state store's outbound calls:
DefaultStatestoreComponentOutbound..., DefaultComponentOutbound...,
DefaultComponent..., then Default...Policy)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from edge.runtime import metrics
from edge.runtime.resiliency.breaker import BreakerOpen, CircuitBreaker
from edge.runtime.resiliency.policy import (
    NO_POLICY,
    Labels,
    Policy,
    PolicyTimeout,
    http_failure,
    transient,
)
from edge.runtime.resiliency.spec import (
    BreakerSpec,
    ResiliencyResource,
    RetrySpec,
    TargetNames,
    in_scope,
    parse_resiliency,
)

__all__ = [
    "ACTOR_RETRIES",
    "BINDING",
    "CONFIGURATION",
    "INBOUND",
    "LOCK",
    "NO_POLICY",
    "OUTBOUND",
    "PUBSUB",
    "SECRETSTORE",
    "SERVICE_RETRIES",
    "STATESTORE",
    "BreakerOpen",
    "Policy",
    "PolicyTimeout",
    "Resiliency",
    "http_failure",
    "transient",
]

log = logging.getLogger("edge.runtime.resiliency")

INBOUND, OUTBOUND = "inbound", "outbound"
# Dapr's component kinds, as they appear in default policy names and metric targets.
STATESTORE, PUBSUB, BINDING = "Statestore", "Pubsub", "Binding"
SECRETSTORE, CONFIGURATION, LOCK = "Secretstore", "Configuration", "Lock"

SERVICE_RETRIES = "DaprBuiltInServiceRetries"
ACTOR_RETRIES = "DaprBuiltInActorRetries"
# Dapr's built-in retries for calls between sidecars; an override may raise
# the retries, not lower them below 3.
_BUILT_IN = {name: RetrySpec(name, duration=1.0, max_retries=3)
             for name in (SERVICE_RETRIES, ACTOR_RETRIES)}
_DEFAULT_ACTOR_CACHE = 5000


class Resiliency:
    def __init__(self, resources: list[ResiliencyResource]) -> None:
        # Policy name -> (the resource that declares it, the policy).
        self.timeouts: dict[str, tuple[str, float]] = {}
        self.retries: dict[str, tuple[str, RetrySpec]] = {}
        self.breaker_specs: dict[str, tuple[str, BreakerSpec]] = {}
        self.targets: dict[tuple[str, str], tuple[str, TargetNames]] = {}
        for resource in resources:
            self._add(resource)
        self._breakers: dict[tuple[str, ...], CircuitBreaker] = {}
        self._actor_breakers: dict[str, OrderedDict[str, CircuitBreaker]] = {}
        self._cache: dict[tuple[str, str, str], Policy] = {}

    @classmethod
    def load(cls, documents: list[tuple[str, dict[str, Any]]], app_id: str) -> Resiliency:
        resources = []
        for file, doc in documents:
            if not in_scope(doc, app_id):
                log.info("resiliency %s (%s) skipped: app %s is not in its scopes", file,
                         (doc.get("metadata") or {}).get("name"), app_id)
                continue
            resource = parse_resiliency(doc, file)
            resources.append(resource)
            metrics.resiliency_loaded(resource.name)
            log.info("resiliency loaded: %s (%s)", resource.name, file)
        return cls(resources)

    def _add(self, resource: ResiliencyResource) -> None:
        name = resource.name
        self.timeouts.update({k: (name, v) for k, v in resource.timeouts.items()})
        self.breaker_specs.update({k: (name, v) for k, v in resource.breakers.items()})
        for key, spec in resource.retries.items():
            if key in _BUILT_IN and 0 <= spec.max_retries < 3:
                log.warning("%s: %s may not retry fewer than 3 times; using 3", resource.file, key)
                spec = replace(spec, max_retries=3)
            self.retries[key] = (name, spec)
        for kind, targets in (("app", resource.apps), ("actor", resource.actors),
                              (INBOUND, resource.inbound), (OUTBOUND, resource.outbound)):
            self.targets.update({(kind, target): (name, names)
                                 for target, names in targets.items()})

    # -- lookups, one per kind of operation

    def app(self, app_id: str) -> Policy:
        """Service invocation of app_id, on the caller's side."""
        key = ("app", app_id, "")
        policy = self._cache.get(key)
        if policy is None:
            policy = self._cache[key] = self._resolve(
                ("app", app_id), ("App",), Labels("", OUTBOUND, f"app_{app_id}"),
                ("app", app_id))
        return policy

    def component(self, name: str, kind: str, direction: str) -> Policy:
        """Calls to a component (outbound) or from it into the app (inbound)."""
        key = (direction, name, kind)
        policy = self._cache.get(key)
        if policy is None:
            way = direction.capitalize()
            levels = (f"{kind}Component{way}", f"Component{way}", "Component")
            policy = self._cache[key] = self._resolve(
                (direction, name), levels, Labels("", direction, f"{kind}_{name}"),
                ("component", direction, name))
        return policy

    def actor(self, actor_type: str, actor_id: str) -> Policy:
        """An actor call: retry and breaker around the whole call, the timeout
        on the method call once the actor's turn has come (see actor_timeout)."""
        found = self.targets.get(("actor", actor_type))
        labels = Labels("", OUTBOUND, f"actor_{actor_type}")
        resource, names = found or self._defaults(("Actor",))
        # Default breakers are per type, as in Dapr; a named one says its scope.
        scope = (names.breaker_scope or "id") if found else "type"
        policy = self._policy(replace(names, timeout=""), resource, labels, None)
        if names.circuit_breaker:
            policy.breaker = self._actor_breaker(actor_type, actor_id, names, scope, labels,
                                                 resource)
        return policy

    def actor_timeout(self, actor_type: str) -> Policy:
        key = ("actor-timeout", actor_type, "")
        policy = self._cache.get(key)
        if policy is None:
            resource, names = self.targets.get(("actor", actor_type)) \
                or self._defaults(("Actor",))
            policy = self._cache[key] = self._policy(
                TargetNames(timeout=names.timeout), resource,
                Labels("", OUTBOUND, f"actor_{actor_type}"), None)
        return policy

    def built_in(self, name: str, named_target: tuple[str, str] | None = None) -> Policy:
        """Dapr's built-in retries between sidecars; off when the operation's
        target names a retry policy of its own."""
        if named_target is not None:
            found = self.targets.get(named_target)
            if found is not None and found[1].retry:
                return NO_POLICY
        spec = self.retries.get(name, ("", _BUILT_IN[name]))[1]
        return Policy(retry=spec)

    # -- resolution

    def _resolve(self, target: tuple[str, str], levels: tuple[str, ...], labels: Labels,
                 breaker_key: tuple[str, ...]) -> Policy:
        resource, names = self.targets.get(target) or self._defaults(levels)
        return self._policy(names, resource, labels, breaker_key)

    def _defaults(self, levels: tuple[str, ...]) -> tuple[str, TargetNames]:
        """The most specific Default<level><Type>Policy of each type."""
        chosen: dict[str, str] = {}
        resource = ""
        for attr, suffix, table in (("timeout", "Timeout", self.timeouts),
                                    ("retry", "Retry", self.retries),
                                    ("circuit_breaker", "CircuitBreaker", self.breaker_specs)):
            for level in (*levels, ""):
                name = f"Default{level}{suffix}Policy"
                if name in table:
                    chosen[attr] = name
                    resource = resource or table[name][0]
                    break
        return resource, TargetNames(**chosen)

    def _policy(self, names: TargetNames, resource: str, labels: Labels,
                breaker_key: tuple[str, ...] | None) -> Policy:
        if not (names.timeout or names.retry or names.circuit_breaker):
            return NO_POLICY
        labels = replace(labels, resource=resource)
        policy = Policy(labels)
        if names.timeout:
            policy.timeout = self.timeouts[names.timeout][1]
        if names.retry:
            policy.retry = self.retries[names.retry][1]
        if names.circuit_breaker and breaker_key is not None:
            policy.breaker = self._breaker(breaker_key, names.circuit_breaker, labels)
        return policy

    def _breaker(self, key: tuple[str, ...], spec_name: str, labels: Labels) -> CircuitBreaker:
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = self._new_breaker(spec_name, "/".join(key), labels)
        return breaker

    def _new_breaker(self, spec_name: str, key: str, labels: Labels) -> CircuitBreaker:
        spec = self.breaker_specs[spec_name][1]

        def changed(state: str) -> None:
            metrics.breaker_state(labels.resource, labels.direction, labels.target, state)
            metrics.resiliency_activated(labels.resource, "circuitbreaker", labels.direction,
                                         labels.target, state)

        metrics.breaker_state(labels.resource, labels.direction, labels.target, "closed")
        return CircuitBreaker(spec, key, changed)

    def _actor_breaker(self, actor_type: str, actor_id: str, names: TargetNames, scope: str,
                       labels: Labels, resource: str) -> CircuitBreaker:
        """Breakers per actor type, or per actor id (an LRU of cache size)."""
        labels = replace(labels, resource=resource)
        cache = self._actor_breakers.setdefault(actor_type, OrderedDict())
        key = actor_type if scope == "type" else f"{actor_type}-{actor_id}"
        breaker = cache.get(key)
        if breaker is None:
            breaker = cache[key] = self._new_breaker(names.circuit_breaker, key, labels)
            limit = names.cache_size or _DEFAULT_ACTOR_CACHE
            while len(cache) > limit:
                cache.popitem(last=False)
        cache.move_to_end(key)
        return breaker
