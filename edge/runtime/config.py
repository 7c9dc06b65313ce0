"""The Configuration resource (`kind: Configuration`, given with --config),
read into a typed model of its `spec` once at start.

A field of the wrong type stops the sidecar with a ConfigError naming the file
and the field, so a typo cannot silently weaken a security setting (an API
allow list, a secret scope, an access policy). A field edge does not know is
only warned about: Configuration files are shared with daprd, which knows more.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import ConfigError
from edge.runtime.loader import read_documents

log = logging.getLogger("edge.runtime.config")

ALLOW = "allow"
DENY = "deny"

# Sections daprd reads that edge accepts but does not act on; they are not
# typos, so they get an info line rather than an unknown-field warning.
_IGNORED_SECTIONS = ("httpPipeline", "appHttpPipeline", "components", "mtls", "workflow", "wasm")


@dataclass(frozen=True)
class ZipkinSpec:
    endpoint_address: str = ""


@dataclass(frozen=True)
class OtelSpec:
    endpoint_address: str = ""
    is_secure: bool = True
    protocol: str = ""


@dataclass(frozen=True)
class TracingSpec:
    sampling_rate: float = 0.0
    stdout: bool = False
    zipkin: ZipkinSpec = field(default_factory=ZipkinSpec)
    otel: OtelSpec = field(default_factory=OtelSpec)


@dataclass(frozen=True)
class MetricLabel:
    name: str
    regex: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricRule:
    name: str
    labels: tuple[MetricLabel, ...] = ()


@dataclass(frozen=True)
class MetricsHttpSpec:
    increased_cardinality: bool | None = None
    path_matching: tuple[str, ...] = ()
    exclude_verbs: bool = False


@dataclass(frozen=True)
class MetricsSpec:
    # Dapr records metrics unless told not to.
    enabled: bool = True
    rules: tuple[MetricRule, ...] = ()
    latency_distribution_buckets: tuple[int, ...] = ()
    record_error_codes: bool = False
    http: MetricsHttpSpec = field(default_factory=MetricsHttpSpec)


@dataclass(frozen=True)
class ApiLoggingSpec:
    enabled: bool = False
    omit_health_checks: bool = False
    obfuscate_urls: bool = False


@dataclass(frozen=True)
class LoggingSpec:
    api_logging: ApiLoggingSpec = field(default_factory=ApiLoggingSpec)


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    enabled: bool = False


@dataclass(frozen=True)
class NameResolutionSpec:
    component: str = ""
    version: str = ""
    configuration: Any = None


@dataclass(frozen=True)
class ApiRule:
    name: str
    version: str
    protocol: str = ""


@dataclass(frozen=True)
class ApiSpec:
    allowed: tuple[ApiRule, ...] = ()
    denied: tuple[ApiRule, ...] = ()

    def http_rules(self, rules: tuple[ApiRule, ...]) -> tuple[ApiRule, ...]:
        return tuple(r for r in rules if r.protocol.lower() == "http")

    def grpc_rules(self, rules: tuple[ApiRule, ...]) -> tuple[ApiRule, ...]:
        return tuple(r for r in rules if r.protocol.lower() == "grpc")

    @property
    def restricts_http(self) -> bool:
        return bool(self.http_rules(self.allowed) or self.http_rules(self.denied))


@dataclass(frozen=True)
class SecretScope:
    store_name: str
    default_access: str = ALLOW
    allowed_secrets: frozenset[str] = frozenset()
    denied_secrets: frozenset[str] = frozenset()

    def permits(self, key: str) -> bool:
        # Dapr's priority: an allow list wins over everything, then the deny
        # list, then the default (secret-scope.md, "Permission priority").
        if self.allowed_secrets:
            return key in self.allowed_secrets
        if key in self.denied_secrets:
            return False
        return self.default_access == ALLOW


@dataclass(frozen=True)
class SecretsSpec:
    scopes: tuple[SecretScope, ...] = ()

    def permits(self, store: str, key: str) -> bool:
        scope = next((s for s in self.scopes if s.store_name == store), None)
        return scope is None or scope.permits(key)


@dataclass(frozen=True)
class AclOperation:
    name: str
    http_verbs: tuple[str, ...] = ()
    action: str = ALLOW


@dataclass(frozen=True)
class AclPolicy:
    app_id: str
    default_action: str = ""
    trust_domain: str = "public"
    namespace: str = ""
    operations: tuple[AclOperation, ...] = ()


@dataclass(frozen=True)
class AccessControlSpec:
    default_action: str = ""
    trust_domain: str = ""
    policies: tuple[AclPolicy, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.default_action or self.trust_domain or self.policies)


@dataclass
class Configuration:
    name: str = "default"
    spec: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    tracing: TracingSpec = field(default_factory=TracingSpec)
    metrics: MetricsSpec = field(default_factory=MetricsSpec)
    logging: LoggingSpec = field(default_factory=LoggingSpec)
    feature_specs: tuple[FeatureSpec, ...] = ()
    name_resolution: NameResolutionSpec = field(default_factory=NameResolutionSpec)
    api: ApiSpec = field(default_factory=ApiSpec)
    secrets: SecretsSpec = field(default_factory=SecretsSpec)
    access_control: AccessControlSpec = field(default_factory=AccessControlSpec)

    @property
    def features(self) -> list[str]:
        """Names of the enabled preview features."""
        return [f.name for f in self.feature_specs if f.enabled]


class Reader:
    """Typed reads from the YAML tree; every failure names file and field."""

    def __init__(self, file: str, what: str = "configuration file") -> None:
        self.file = file
        self.what = what

    def fail(self, path: str, reason: str) -> ConfigError:
        return ConfigError(reason, file=self.file, field=path)

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a mapping, not {_kind(value)}")
        return value

    def section(self, parent: dict[str, Any], key: str, path: str,
                known: tuple[str, ...]) -> dict[str, Any]:
        where = f"{path}.{key}" if path else key
        found = self.mapping(parent.get(key), where)
        self.warn_unknown(found, where, known)
        return found

    def warn_unknown(self, found: dict[str, Any], path: str, known: tuple[str, ...]) -> None:
        for key in found:
            if key not in known:
                log.warning("%s %s: unknown field %s.%s is ignored", self.what, self.file,
                            path, key)

    def string(self, parent: dict[str, Any], key: str, path: str, default: str = "") -> str:
        value = parent.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(f"{path}.{key}", f"must be a string, not {_kind(value)}")
        return str(value)

    def choice(self, parent: dict[str, Any], key: str, path: str, default: str = "") -> str:
        value = self.string(parent, key, path, default).lower()
        if value and value not in (ALLOW, DENY):
            raise self.fail(f"{path}.{key}", f"must be allow or deny, not {value!r}")
        return value

    def boolean(self, parent: dict[str, Any], key: str, path: str, default: bool = False) -> bool:
        value = parent.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        # YAML users quote booleans often ("true"); Go's JSON decoding in daprd
        # would refuse them, but they are unambiguous.
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.fail(f"{path}.{key}", f"must be true or false, not {value!r}")

    def items(self, parent: dict[str, Any], key: str, path: str) -> list[tuple[Any, str]]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(f"{path}.{key}", f"must be a list, not {_kind(value)}")
        return [(item, f"{path}.{key}[{i}]") for i, item in enumerate(value)]

    def strings(self, parent: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
        found = []
        for item, where in self.items(parent, key, path):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise self.fail(where, f"must be a string, not {_kind(item)}")
            found.append(str(item))
        return tuple(found)

    def entries(self, parent: dict[str, Any], key: str, path: str,
                known: tuple[str, ...], required: tuple[str, ...] = ()
                ) -> list[tuple[dict[str, Any], str]]:
        found = []
        for item, where in self.items(parent, key, path):
            entry = self.mapping(item, where)
            self.warn_unknown(entry, where, known)
            for name in required:
                if not self.string(entry, name, where):
                    raise self.fail(f"{where}.{name}", "is required")
            found.append((entry, where))
        return found


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "a boolean", str: "a string",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _tracing(r: Reader, spec: dict[str, Any]) -> TracingSpec:
    path = "spec.tracing"
    found = r.section(spec, "tracing", "spec", ("samplingRate", "stdout", "zipkin", "otel"))
    raw = r.string(found, "samplingRate", path, "0")
    try:
        rate = float(raw)
    except ValueError:
        raise r.fail(f"{path}.samplingRate", f"must be a number from 0 to 1, not {raw!r}") from None
    if not 0 <= rate <= 1:
        raise r.fail(f"{path}.samplingRate", f"must be a number from 0 to 1, not {raw!r}")
    zipkin = r.section(found, "zipkin", path, ("endpointAddress",))
    otel = r.section(found, "otel", path, ("endpointAddress", "isSecure", "protocol", "headers",
                                           "timeout"))
    return TracingSpec(
        sampling_rate=rate,
        stdout=r.boolean(found, "stdout", path),
        zipkin=ZipkinSpec(r.string(zipkin, "endpointAddress", f"{path}.zipkin")),
        otel=OtelSpec(r.string(otel, "endpointAddress", f"{path}.otel"),
                      r.boolean(otel, "isSecure", f"{path}.otel", True),
                      r.string(otel, "protocol", f"{path}.otel")))


def _check_patterns(r: Reader, regex: dict[str, Any], path: str) -> None:
    """A metrics rule is applied to every recorded value: a pattern that does
    not compile must stop the sidecar at start, not fail a request later."""
    for replacement, pattern in regex.items():
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise r.fail(f"{path}.{replacement}", f"is not a valid regular expression: "
                         f"{exc}") from None


def _metrics(r: Reader, spec: dict[str, Any]) -> MetricsSpec:
    path = "spec.metrics"
    found = r.section(spec, "metrics", "spec", ("enabled", "rules", "latencyDistributionBuckets",
                                                "recordErrorCodes", "http"))
    rules = []
    for entry, where in r.entries(found, "rules", path, ("name", "labels"), ("name",)):
        labels = []
        for label, at in r.entries(entry, "labels", where, ("name", "regex"), ("name",)):
            regex = r.mapping(label.get("regex"), f"{at}.regex")
            _check_patterns(r, regex, f"{at}.regex")
            labels.append(MetricLabel(r.string(label, "name", at),
                                      {str(k): str(v) for k, v in regex.items()}))
        rules.append(MetricRule(r.string(entry, "name", where), tuple(labels)))
    buckets = []
    for item, where in r.items(found, "latencyDistributionBuckets", path):
        if isinstance(item, bool) or not isinstance(item, int):
            raise r.fail(where, f"must be a whole number of milliseconds, not {item!r}")
        buckets.append(item)
    http = r.section(found, "http", path, ("increasedCardinality", "pathMatching",
                                           "excludeVerbs"))
    where = f"{path}.http"
    cardinality = (r.boolean(http, "increasedCardinality", where)
                   if "increasedCardinality" in http else None)
    return MetricsSpec(
        enabled=r.boolean(found, "enabled", path, True),
        rules=tuple(rules),
        latency_distribution_buckets=tuple(buckets),
        record_error_codes=r.boolean(found, "recordErrorCodes", path),
        http=MetricsHttpSpec(cardinality, r.strings(http, "pathMatching", where),
                             r.boolean(http, "excludeVerbs", where)))


def _logging(r: Reader, spec: dict[str, Any]) -> LoggingSpec:
    found = r.section(spec, "logging", "spec", ("apiLogging",))
    path = "spec.logging.apiLogging"
    api = r.section(found, "apiLogging", "spec.logging",
                    ("enabled", "omitHealthChecks", "obfuscateURLs"))
    return LoggingSpec(ApiLoggingSpec(r.boolean(api, "enabled", path),
                                      r.boolean(api, "omitHealthChecks", path),
                                      r.boolean(api, "obfuscateURLs", path)))


def _features(r: Reader, spec: dict[str, Any]) -> tuple[FeatureSpec, ...]:
    found = []
    for entry, where in r.entries(spec, "features", "spec", ("name", "enabled"), ("name",)):
        # As in Dapr, a feature is on only when it says so: `enabled` defaults to false.
        found.append(FeatureSpec(r.string(entry, "name", where),
                                 r.boolean(entry, "enabled", where)))
    return tuple(found)


def _name_resolution(r: Reader, spec: dict[str, Any]) -> NameResolutionSpec:
    path = "spec.nameResolution"
    found = r.section(spec, "nameResolution", "spec", ("component", "version", "configuration"))
    return NameResolutionSpec(r.string(found, "component", path), r.string(found, "version", path),
                              found.get("configuration"))


def _api(r: Reader, spec: dict[str, Any]) -> ApiSpec:
    found = r.section(spec, "api", "spec", ("allowed", "denied"))
    lists = {}
    for key in ("allowed", "denied"):
        rules = []
        for entry, where in r.entries(found, key, "spec.api", ("name", "version", "protocol"),
                                      ("name", "version")):
            protocol = r.string(entry, "protocol", where).lower()
            if protocol not in ("", "http", "grpc"):
                raise r.fail(f"{where}.protocol", f"must be http or grpc, not {protocol!r}")
            if not protocol:
                # daprd files a rule under its protocol only; without one it
                # applies to neither, which surprises people who copied older docs.
                log.warning("configuration file %s: %s has no protocol and, as in Dapr, applies "
                            "to no API; add `protocol: http`", r.file, where)
            rules.append(ApiRule(r.string(entry, "name", where), r.string(entry, "version", where),
                                 protocol))
        lists[key] = tuple(rules)
    return ApiSpec(lists["allowed"], lists["denied"])


def _secrets(r: Reader, spec: dict[str, Any]) -> SecretsSpec:
    found = r.section(spec, "secrets", "spec", ("scopes",))
    scopes: list[SecretScope] = []
    known = ("storeName", "defaultAccess", "allowedSecrets", "deniedSecrets")
    for entry, where in r.entries(found, "scopes", "spec.secrets", known, ("storeName",)):
        store = r.string(entry, "storeName", where)
        if any(s.store_name == store for s in scopes):
            raise r.fail(f"{where}.storeName", f"store {store!r} is scoped twice")
        scopes.append(SecretScope(store, r.choice(entry, "defaultAccess", where, ALLOW),
                                  frozenset(r.strings(entry, "allowedSecrets", where)),
                                  frozenset(r.strings(entry, "deniedSecrets", where))))
    return SecretsSpec(tuple(scopes))


def _access_control(r: Reader, spec: dict[str, Any]) -> AccessControlSpec:
    path = "spec.accessControl"
    found = r.section(spec, "accessControl", "spec", ("defaultAction", "trustDomain", "policies"))
    policies = []
    known = ("appId", "defaultAction", "trustDomain", "namespace", "operations")
    for entry, where in r.entries(found, "policies", path, known, ("appId",)):
        operations = []
        for op, at in r.entries(entry, "operations", where, ("name", "httpVerb", "action"),
                                ("name",)):
            operations.append(AclOperation(r.string(op, "name", at),
                                           tuple(v.upper() for v in r.strings(op, "httpVerb", at)),
                                           r.choice(op, "action", at, ALLOW)))
        policies.append(AclPolicy(r.string(entry, "appId", where),
                                  r.choice(entry, "defaultAction", where),
                                  r.string(entry, "trustDomain", where) or "public",
                                  r.string(entry, "namespace", where), tuple(operations)))
    acl = AccessControlSpec(r.choice(found, "defaultAction", path),
                              r.string(found, "trustDomain", path), tuple(policies))
    if acl.configured and not acl.default_action:
        log.warning("configuration file %s: %s.defaultAction is not set; as in Dapr, calls no "
                    "policy allows are denied", r.file, path)
    return acl


_SECTIONS = ("tracing", "metrics", "logging", "features", "nameResolution", "api", "secrets",
             "accessControl")


def parse_configuration(doc: dict[str, Any], file: str) -> Configuration:
    r = Reader(file)
    spec = r.mapping(doc.get("spec"), "spec")
    for key in spec:
        if key in _IGNORED_SECTIONS:
            log.info("configuration file %s: spec.%s is not supported by edge and is ignored",
                     file, key)
        elif key not in _SECTIONS:
            log.warning("configuration file %s: unknown field spec.%s is ignored", file, key)
    meta = doc.get("metadata")
    name = meta.get("name", "default") if isinstance(meta, dict) else "default"
    return Configuration(
        name=str(name), spec=spec, file=file,
        tracing=_tracing(r, spec),
        metrics=_metrics(r, spec),
        logging=_logging(r, spec),
        feature_specs=_features(r, spec),
        name_resolution=_name_resolution(r, spec),
        api=_api(r, spec),
        secrets=_secrets(r, spec),
        access_control=_access_control(r, spec))


def load_configuration(path: str) -> Configuration:
    file = Path(path).expanduser()
    configs = [d for d in read_documents(file) if d.get("kind") == "Configuration"]
    if not configs:
        raise ConfigError("no document of kind Configuration", file=str(file), field="kind")
    return parse_configuration(configs[0], str(file))
