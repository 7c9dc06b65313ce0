"""spec.api.allowed / denied: an API that is not allowed is not routed, as in
daprd, so it answers 404 (ERR_DIRECT_INVOKE when the invoke API, daprd's
fallback for unknown paths, is allowed); health probes always answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import write_component
from tests.runtime.helpers import write_docs


def _config(path: Path, **api: Any) -> Path:
    return write_docs(path, {"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
                             "metadata": {"name": "apis"}, "spec": {"api": api}})


def _resources(folder: Path) -> Path:
    write_component(folder, "statestore", "state.in-memory")
    write_component(folder, "memory", "lock.in-memory")
    write_component(folder, "env", "secretstores.local.env")
    return folder


def _rule(name: str, version: str = "v1.0", protocol: str = "http") -> dict[str, str]:
    return {"name": name, "version": version, "protocol": protocol}


def test_allow_list_serves_only_its_apis(spawn, tmp_path: Path):
    config = _config(tmp_path / "config.yaml", allowed=[_rule("state"), _rule("lock", "v1alpha1")])
    sidecar = spawn.sidecar("allowing", _resources(tmp_path / "resources"),
                            args=["--config", str(config)])
    lock = {"resourceId": "r", "lockOwner": "o", "expiryInSeconds": 5}
    with sidecar.client() as http:
        saved = http.post("/v1.0/state/statestore", json=[{"key": "k", "value": 1}])
        assert saved.status_code == 204
        assert http.get("/v1.0/state/statestore/k").json() == 1
        assert http.post("/v1.0-alpha1/lock/memory", json=lock).status_code == 200
        assert http.get("/v1.0/healthz").status_code == 204
        assert http.get("/v1.0/healthz/outbound").status_code == 204
        for method, path in (("GET", "/v1.0/metadata"), ("GET", "/v1.0/secrets/env/HOME"),
                             ("POST", "/v1.0-alpha1/unlock/memory"),
                             ("POST", "/v1.0/publish/pubsub/topic"),
                             ("POST", "/v1.0/invoke/allowing/method/x")):
            r = http.request(method, path, json={})
            assert r.status_code == 404, (path, r.text)
            assert r.json()["errorCode"] == "ERR_NOT_FOUND", path
        # A header invocation needs the invoke API too.
        r = http.post("/neworder", headers={"dapr-app-id": "allowing"})
        assert r.status_code == 404


def test_with_invoke_allowed_other_apis_fall_through_to_invocation(spawn, tmp_path: Path):
    app = spawn.app()
    config = _config(tmp_path / "config.yaml", allowed=[_rule("invoke", "v1")])
    sidecar = spawn.sidecar("orders", _resources(tmp_path / "resources"), app_port=app.port,
                            args=["--config", str(config)], wait="ready")
    with sidecar.client() as http:
        assert http.post("/v1.0/invoke/orders/method/neworder").json()["path"] == "/neworder"
        r = http.get("/v1.0/metadata")
        assert r.status_code == 404
        assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"
        assert "metadata API is not allowed" in r.json()["message"]
        # As in daprd, the unrouted path with a dapr-app-id header is an invocation.
        r = http.get("/v1.0/metadata", headers={"dapr-app-id": "orders"})
        assert r.status_code == 200
        assert r.json()["path"] == "/v1.0/metadata"


def test_deny_list_blocks_only_its_apis_and_grpc_rules_do_not_apply(spawn, tmp_path: Path):
    config = _config(tmp_path / "config.yaml",
                     denied=[_rule("secrets", "v1"), _rule("state", "v1", "grpc")])
    sidecar = spawn.sidecar("denying", _resources(tmp_path / "resources"),
                            args=["--config", str(config)], env={"FROM_ENV": "x"})
    with sidecar.client() as http:
        assert http.get("/v1.0/secrets/env/FROM_ENV").status_code == 404
        assert http.get("/v1.0/secrets/env/bulk").status_code == 404
        assert http.get("/v1.0/state/statestore/k").status_code == 204
        assert http.get("/v1.0/metadata").status_code == 200


def test_denied_wins_over_allowed_and_token_is_checked_first(spawn, tmp_path: Path):
    config = _config(tmp_path / "config.yaml", allowed=[_rule("state"), _rule("metadata")],
                     denied=[_rule("metadata")])
    sidecar = spawn.sidecar("both", _resources(tmp_path / "resources"),
                            args=["--config", str(config)], env={"DAPR_API_TOKEN": "t"})
    with sidecar.client() as http:
        assert http.get("/v1.0/metadata").status_code == 401
        r = http.get("/v1.0/metadata", headers={"dapr-api-token": "t"})
        assert r.status_code == 404
        r = http.get("/v1.0/state/statestore/k", headers={"dapr-api-token": "t"})
        assert r.status_code == 204
