"""spec.accessControl on the callee's sidecar: calls from other sidecars of
the edge home are let in or refused by caller app id, operation and verb,
as Dapr's invoke allow list documents. Three real sidecars, one app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.runtime.helpers import write_docs


def _callee(spawn, tmp_path: Path, access_control: dict[str, Any]):
    config = write_docs(tmp_path / "callee.yaml", {
        "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
        "metadata": {"name": "calleeconfig"}, "spec": {"accessControl": access_control}})
    app = spawn.app()
    return spawn.sidecar("callee", app_port=app.port, wait="ready",
                         args=["--config", str(config)])


def test_deny_by_default_except_listed_operations_and_verbs(spawn, tmp_path: Path):
    callee = _callee(spawn, tmp_path, {
        "defaultAction": "deny", "trustDomain": "public",
        "policies": [{"appId": "checkout", "defaultAction": "deny", "trustDomain": "public",
                      "namespace": "default", "operations": [
                          {"name": "/op1/*", "httpVerb": ["POST", "PUT"], "action": "allow"},
                          {"name": "/open/**", "httpVerb": ["*"], "action": "allow"}]}]})
    checkout, stranger = spawn.sidecar("checkout"), spawn.sidecar("stranger")
    with checkout.client() as http:
        def status(method: str, method_path: str) -> int:
            return http.request(method, f"/v1.0/invoke/callee/method/{method_path}").status_code

        assert status("POST", "op1/x") == 200
        assert status("PUT", "OP1/x?q=1") == 200  # HTTP operations match case-insensitively
        assert status("GET", "op1/x") == 403  # verb not listed: the app's default
        assert status("POST", "op1/x/y") == 403  # `*` is one segment
        assert status("GET", "open/a/b/c") == 200  # `**` is any depth
        r = http.post("/v1.0/invoke/callee/method/other")
        assert r.status_code == 403
        assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"
        assert ("access control policy has denied access to id: spiffe://public/ns/default/"
                "checkout operation: /other verb: POST") in r.json()["message"]
        # The header form of invocation is checked the same way.
        assert http.post("/op1/z", headers={"dapr-app-id": "callee"}).status_code == 200
        assert http.get("/op1/z", headers={"dapr-app-id": "callee"}).status_code == 403
    with stranger.client() as http:
        assert http.post("/v1.0/invoke/callee/method/op1/x").status_code == 403
    # Calls from the callee's own app do not cross the internal channel.
    with callee.client() as http:
        assert http.get("/v1.0/invoke/callee/method/anything").status_code == 200


def test_allow_by_default_except_a_denied_path(spawn, tmp_path: Path):
    _callee(spawn, tmp_path, {
        "defaultAction": "allow",
        "policies": [{"appId": "checkout", "defaultAction": "allow", "namespace": "default",
                      "operations": [{"name": "/admin", "httpVerb": ["*"],
                                      "action": "deny"}]}]})
    checkout, stranger = spawn.sidecar("checkout"), spawn.sidecar("stranger")
    with checkout.client() as http:
        assert http.get("/v1.0/invoke/callee/method/orders").status_code == 200
        # A name without a wildcard also covers what lies below it, as in Dapr.
        assert http.get("/v1.0/invoke/callee/method/admin").status_code == 403
        assert http.delete("/v1.0/invoke/callee/method/admin/users/1").status_code == 403
        # An encoded slash cannot walk around the rule.
        assert http.get("/v1.0/invoke/callee/method/Admin%2Fusers").status_code == 403
    with stranger.client() as http:
        assert http.get("/v1.0/invoke/callee/method/admin/users").status_code == 200


def test_policies_without_global_default_deny_other_apps(spawn, tmp_path: Path):
    callee = _callee(spawn, tmp_path, {
        "policies": [{"appId": "checkout", "defaultAction": "allow", "namespace": "default"}]})
    checkout, stranger = spawn.sidecar("checkout"), spawn.sidecar("stranger")
    with checkout.client() as http:
        assert http.get("/v1.0/invoke/callee/method/x").status_code == 200
    with stranger.client() as http:
        assert http.get("/v1.0/invoke/callee/method/x").status_code == 403
    callee.stop()
    assert "defaultAction is not set" in callee.output()
