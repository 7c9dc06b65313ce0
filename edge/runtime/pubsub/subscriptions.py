"""Subscriptions, as an app lists them at GET /dapr/subscribe or a gRPC app
answers ListTopicSubscriptions (programmatic), as Subscription resource files
declare them (declarative), or as a client opens them over gRPC (streaming)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edge.errors import ConfigError
from edge.runtime.pubsub.routing import Rule, RuleError, compile_rule

DECLARATIVE = "DECLARATIVE"
PROGRAMMATIC = "PROGRAMMATIC"
STREAMING = "STREAMING"
# The path Dapr gives a streaming subscription's single route.
_STREAM_PATH = "/"
_API_VERSIONS = ("dapr.io/v1alpha1", "dapr.io/v2alpha1")
# Dapr's batch limits when a bulk subscription leaves them out.
_BULK_MAX_MESSAGES = 100
_BULK_MAX_AWAIT_MS = 1000
_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}


class SubscriptionError(ValueError):
    """A subscription that cannot be used; the message says which and why."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


@dataclass(frozen=True)
class BulkSettings:
    enabled: bool = False
    max_messages: int = _BULK_MAX_MESSAGES
    max_await_ms: int = _BULK_MAX_AWAIT_MS


@dataclass
class SubscriptionSpec:
    pubsub: str
    topic: str
    rules: list[Rule]
    kind: str
    name: str = ""
    dead_letter_topic: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    bulk: BulkSettings = BulkSettings()
    scopes: list[str] = field(default_factory=list)
    raw_payload: bool = False

    @property
    def label(self) -> str:
        """How logs and errors name this subscription."""
        what = f"subscription {self.name!r}" if self.name else "subscription"
        return f"{what} to {self.pubsub}/{self.topic}"

    def describe(self) -> dict[str, Any]:
        """The entry /v1.0/metadata lists, in daprd's JSON shape."""
        entry: dict[str, Any] = {"pubsubname": self.pubsub, "topic": self.topic}
        if self.metadata:
            entry["metadata"] = self.metadata
        rules = [rule.describe() for rule in self.rules]
        if rules:
            entry["rules"] = rules
        entry["deadLetterTopic"] = self.dead_letter_topic
        entry["type"] = self.kind
        return entry


def _member(obj: dict[str, Any], name: str) -> Any:
    """A member by name; like Go's JSON decoding (which Dapr uses), the
    case of the name does not matter."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return None


def _string(obj: dict[str, Any], name: str, where: str) -> str:
    value = _member(obj, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SubscriptionError(f"{name} must be a string", f"{where}{name}")
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _metadata(value: Any, where: str, strict: bool) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SubscriptionError("metadata must be a map of strings", where)
    if strict and not all(isinstance(v, str) for v in value.values()):
        raise SubscriptionError("metadata values must be strings", where)
    return {str(k): _text(v) for k, v in value.items()}


def _raw_payload(metadata: dict[str, str], where: str) -> bool:
    text = _member(metadata, "rawPayload")
    if not text:
        return False
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise SubscriptionError(f"rawPayload must be true or false, got {text!r}", where)


def _int(value: Any, name: str, default: int, where: str) -> int:
    if value is None or value == 0:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SubscriptionError(f"{name} must be a whole number", where + name)
    return value


def _bulk(value: Any, where: str) -> BulkSettings:
    if value is None:
        return BulkSettings()
    if not isinstance(value, dict):
        raise SubscriptionError("bulkSubscribe must be an object", where)
    enabled = _member(value, "enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise SubscriptionError("bulkSubscribe.enabled must be true or false", where + "enabled")
    return BulkSettings(
        bool(enabled),
        _int(_member(value, "maxMessagesCount"), "maxMessagesCount", _BULK_MAX_MESSAGES, where),
        _int(_member(value, "maxAwaitDurationMs"), "maxAwaitDurationMs", _BULK_MAX_AWAIT_MS,
             where))


def _rules(routes: Any, route: str, where: str) -> list[Rule]:
    """The rules in order, then the default path (or the v1 route) as a rule
    that matches everything, as Dapr builds them."""
    if routes is None:
        routes = {}
    if not isinstance(routes, dict):
        raise SubscriptionError("routes must be an object with rules and default", where)
    items = _member(routes, "rules") or []
    if not isinstance(items, list):
        raise SubscriptionError("routes.rules must be a list", where + "routes.rules")
    rules: list[Rule] = []
    for index, item in enumerate(items):
        place = f"{where}routes.rules[{index}]"
        if not isinstance(item, dict):
            raise SubscriptionError("each rule must be an object with match and path", place)
        try:
            rules.append(compile_rule(_string(item, "match", place + "."),
                                      _string(item, "path", place + ".")))
        except RuleError as exc:
            raise SubscriptionError(str(exc), place + ".match") from None
    default = _string(routes, "default", where + "routes.")
    if default or route:
        rules.append(Rule("", default or route))
    return rules


def _spec(obj: dict[str, Any], kind: str, name: str, where: str, strict: bool,
          route: str) -> SubscriptionSpec:
    pubsub = _string(obj, "pubsubname", where)
    topic = _string(obj, "topic", where)
    if not pubsub:
        raise SubscriptionError("pubsubname is missing", where + "pubsubname")
    if not topic:
        raise SubscriptionError("topic is missing", where + "topic")
    metadata = _metadata(_member(obj, "metadata"), where + "metadata", strict)
    return SubscriptionSpec(
        pubsub=pubsub, topic=topic, kind=kind, name=name,
        rules=_rules(_member(obj, "routes"), route, where),
        dead_letter_topic=_string(obj, "deadLetterTopic", where),
        metadata=metadata, bulk=_bulk(_member(obj, "bulkSubscribe"), where + "bulkSubscribe."),
        raw_payload=_raw_payload(metadata, where + "metadata.rawPayload"))


def from_app(item: Any) -> SubscriptionSpec:
    """One entry of the app's /dapr/subscribe answer; SubscriptionError if unusable."""
    if not isinstance(item, dict):
        raise SubscriptionError("each subscription must be a JSON object")
    return _spec(item, PROGRAMMATIC, "", "", True, _string(item, "route", ""))


def from_grpc(item: Any) -> SubscriptionSpec:
    """One TopicSubscription of a gRPC app's ListTopicSubscriptions answer.
    Unlike over HTTP, a subscription without routes gets a default one (path
    ""), as Dapr gives it; SubscriptionError if unusable."""
    pubsub, topic = item.pubsub_name, item.topic
    if not pubsub:
        raise SubscriptionError("pubsub_name is missing", "pubsub_name")
    if not topic:
        raise SubscriptionError("topic is missing", "topic")
    rules: list[Rule] = []
    for index, rule in enumerate(item.routes.rules):
        try:
            rules.append(compile_rule(rule.match, rule.path))
        except RuleError as exc:
            raise SubscriptionError(str(exc), f"routes.rules[{index}].match") from None
    if item.routes.default or not rules:
        rules.append(Rule("", item.routes.default))
    metadata = dict(item.metadata)
    bulk = BulkSettings()
    if item.HasField("bulk_subscribe"):
        config = item.bulk_subscribe
        bulk = BulkSettings(config.enabled, config.max_messages_count or _BULK_MAX_MESSAGES,
                            config.max_await_duration_ms or _BULK_MAX_AWAIT_MS)
    return SubscriptionSpec(
        pubsub=pubsub, topic=topic, kind=PROGRAMMATIC, rules=rules,
        dead_letter_topic=item.dead_letter_topic, metadata=metadata, bulk=bulk,
        raw_payload=_raw_payload(metadata, "metadata.rawPayload"))


def streaming(pubsub: str, topic: str, metadata: dict[str, str],
              dead_letter_topic: str) -> SubscriptionSpec:
    """A subscription a client opened with SubscribeTopicEventsAlpha1."""
    return SubscriptionSpec(
        pubsub=pubsub, topic=topic, kind=STREAMING, rules=[Rule("", _STREAM_PATH)],
        dead_letter_topic=dead_letter_topic, metadata=dict(metadata),
        raw_payload=_raw_payload(metadata, "metadata.rawPayload"))


def from_document(path: str, doc: dict[str, Any]) -> SubscriptionSpec:
    """A Subscription resource; ConfigError naming the file, the subscription
    and the field when it cannot be used."""
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError("a Subscription needs metadata.name", file=path, field="metadata.name")
    api = doc.get("apiVersion")
    if api not in _API_VERSIONS:
        raise _config(path, name, f"apiVersion must be one of {', '.join(_API_VERSIONS)}, "
                      f"got {api!r}", "apiVersion")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise _config(path, name, "missing spec", "spec")
    scopes = doc.get("scopes") or []
    if not isinstance(scopes, list):
        raise _config(path, name, "scopes must be a list of app ids", "scopes")
    try:
        route = _text(spec.get("route"))
        parsed = _spec(spec, DECLARATIVE, name, "spec.", False, route)
    except SubscriptionError as exc:
        raise _config(path, name, str(exc), exc.where) from None
    parsed.scopes = [_text(s) for s in scopes]
    if not parsed.rules:
        raise _config(path, name, "no route: set spec.route (v1alpha1) or spec.routes "
                      "(v2alpha1)", "spec.routes")
    return parsed


def _config(path: str, name: str, reason: str, where: str | None) -> ConfigError:
    return ConfigError(f"subscription {name!r}: {reason}", file=path, field=where)
