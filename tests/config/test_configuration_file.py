"""The Configuration file (`kind: Configuration`, --config): every section
read into a typed model, wrong types refused at start, unknown fields warned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.runtime.config import load_configuration
from tests.runtime.helpers import failed_start, write_docs

FULL_SPEC: dict[str, Any] = {
    "tracing": {"samplingRate": "0.5", "stdout": True,
                "zipkin": {"endpointAddress": "http://localhost:9411/api/v2/spans"}},
    "metrics": {"enabled": True, "latencyDistributionBuckets": [1, 10, 100],
                "rules": [{"name": "dapr_runtime_service_invocation_req_sent_total",
                           "labels": [{"name": "method", "regex": {"orders/.+": "orders/*"}}]}]},
    "logging": {"apiLogging": {"enabled": True, "omitHealthChecks": True,
                               "obfuscateURLs": False}},
    "features": [{"name": "SchedulerReminders", "enabled": True}, {"name": "Off"}],
    "nameResolution": {"component": "mdns", "version": "v1"},
    "api": {"allowed": [{"name": "state", "version": "v1.0", "protocol": "http"}],
            "denied": [{"name": "secrets", "version": "v1", "protocol": "grpc"}]},
    "secrets": {"scopes": [{"storeName": "vault", "defaultAccess": "deny",
                            "allowedSecrets": ["db-password"], "deniedSecrets": ["root"]}]},
    "accessControl": {"defaultAction": "deny", "trustDomain": "public",
                      "policies": [{"appId": "checkout", "defaultAction": "allow",
                                    "trustDomain": "public", "namespace": "default",
                                    "operations": [{"name": "/orders/*",
                                                    "httpVerb": ["post", "PUT"],
                                                    "action": "deny"}]}]},
}


def _config(path: Path, spec: Any) -> Path:
    return write_docs(path, {"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
                             "metadata": {"name": "appconfig"}, "spec": spec})


def test_every_section_is_read_into_the_model(tmp_path: Path):
    config = load_configuration(str(_config(tmp_path / "config.yaml", FULL_SPEC)))
    assert config.name == "appconfig"
    assert config.tracing.sampling_rate == 0.5 and config.tracing.stdout
    assert config.tracing.zipkin.endpoint_address == "http://localhost:9411/api/v2/spans"
    assert config.metrics.enabled and config.metrics.latency_distribution_buckets == (1, 10, 100)
    assert config.metrics.rules[0].labels[0].regex == {"orders/.+": "orders/*"}
    api_logging = config.logging.api_logging
    assert api_logging.enabled and api_logging.omit_health_checks and not api_logging.obfuscate_urls
    assert config.features == ["SchedulerReminders"]
    assert config.name_resolution.component == "mdns"
    assert [(r.name, r.version, r.protocol) for r in config.api.allowed] == [
        ("state", "v1.0", "http")]
    assert config.api.denied[0].protocol == "grpc"
    scope = config.secrets.scopes[0]
    assert (scope.store_name, scope.default_access) == ("vault", "deny")
    assert scope.allowed_secrets == {"db-password"} and scope.denied_secrets == {"root"}
    acl = config.access_control
    assert (acl.default_action, acl.trust_domain) == ("deny", "public")
    policy = acl.policies[0]
    assert (policy.app_id, policy.default_action, policy.namespace) == (
        "checkout", "allow", "default")
    assert policy.operations[0].http_verbs == ("POST", "PUT")
    assert policy.operations[0].action == "deny"


def test_defaults_without_a_file():
    from edge.runtime.config import Configuration

    config = Configuration()
    assert config.metrics.enabled  # Dapr records metrics unless told not to
    assert config.tracing.sampling_rate == 0
    assert not config.logging.api_logging.enabled
    assert not config.api.restricts_http
    assert config.secrets.permits("any", "thing")
    assert not config.access_control.configured


def test_sidecar_starts_with_a_full_file_and_warns_on_unknown_fields(spawn, tmp_path: Path):
    spec = {**FULL_SPEC, "api": {}, "tracingg": {"samplingRate": "1"},
            "logging": {"apiLogging": {"enabled": False, "omitHealthCheck": True}}}
    path = _config(tmp_path / "config.yaml", spec)
    sidecar = spawn.sidecar("configured", args=["--config", str(path)])
    with sidecar.client() as http:
        assert http.get("/v1.0/metadata").json()["enabledFeatures"] == ["SchedulerReminders"]
    sidecar.stop()
    warnings = [line for line in sidecar.output().splitlines() if "unknown field" in line]
    assert len(warnings) == 2, sidecar.output()
    assert all(str(path) in line for line in warnings)
    assert any("spec.tracingg" in line for line in warnings)
    assert any("spec.logging.apiLogging.omitHealthCheck" in line for line in warnings)


@pytest.mark.parametrize(("spec", "field"), [
    ({"tracing": {"samplingRate": [1]}}, "spec.tracing.samplingRate"),
    ({"tracing": {"samplingRate": "often"}}, "spec.tracing.samplingRate"),
    ({"tracing": {"stdout": "yes please"}}, "spec.tracing.stdout"),
    ({"tracing": "on"}, "spec.tracing"),
    ({"metrics": {"latencyDistributionBuckets": ["fast"]}},
     "spec.metrics.latencyDistributionBuckets[0]"),
    ({"logging": {"apiLogging": {"enabled": 3}}}, "spec.logging.apiLogging.enabled"),
    ({"api": {"allowed": {"name": "state"}}}, "spec.api.allowed"),
    ({"api": {"allowed": [{"name": "state"}]}}, "spec.api.allowed[0].version"),
    ({"api": {"denied": [{"name": "state", "version": "v1", "protocol": "udp"}]}},
     "spec.api.denied[0].protocol"),
    ({"secrets": {"scopes": [{"storeName": "s", "defaultAccess": "maybe"}]}},
     "spec.secrets.scopes[0].defaultAccess"),
    ({"secrets": {"scopes": [{"storeName": "s", "allowedSecrets": "a"}]}},
     "spec.secrets.scopes[0].allowedSecrets"),
    ({"secrets": {"scopes": [{"storeName": "s"}, {"storeName": "s"}]}},
     "spec.secrets.scopes[1].storeName"),
    ({"accessControl": {"policies": [{"defaultAction": "allow"}]}},
     "spec.accessControl.policies[0].appId"),
    ({"accessControl": {"policies": [{"appId": "a", "operations": [
        {"name": "/x", "action": "permit"}]}]}},
     "spec.accessControl.policies[0].operations[0].action"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_wrong_types_stop_the_sidecar_naming_file_and_field(spawn, tmp_path: Path, spec, field):
    path = _config(tmp_path / "config.yaml", spec)
    output = failed_start(spawn, None, "--config", str(path))
    line = next(x for x in output.splitlines() if "cannot start" in x)
    assert f"file {path}" in line
    assert f"field '{field}'" in line


def test_readme_configuration_example_loads_without_warnings(tmp_path: Path, caplog):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Configuration file", 1)[1].split("\n## ", 1)[0]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "config.yaml"
    path.write_text(example)
    with caplog.at_level("WARNING", logger="edge.runtime.config"):
        config = load_configuration(str(path))
    assert not caplog.records, caplog.text
    assert config.api.restricts_http and config.secrets.scopes and config.access_control.configured


def test_name_resolution_component_is_checked(spawn, tmp_path: Path):
    path = _config(tmp_path / "config.yaml", {"nameResolution": {"component": "consul"}})
    output = failed_start(spawn, None, "--config", str(path))
    line = next(x for x in output.splitlines() if "cannot start" in x)
    assert "field 'spec.nameResolution.component'" in line and "consul" in line
    mdns = _config(tmp_path / "mdns.yaml", {"nameResolution": {"component": "mdns"}})
    sidecar = spawn.sidecar("app", None, args=["--config", str(mdns)])
    assert "other hosts are not searched" in sidecar.output()
