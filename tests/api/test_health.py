"""/v1.0/healthz (ready, app included) and /v1.0/healthz/outbound."""

from __future__ import annotations

from tests.harness import free_port, wait_http


def test_not_ready_until_the_app_listens(spawn):
    port = free_port()
    sidecar = spawn.sidecar("waiting", app_port=port)
    with sidecar.client() as http:
        r = http.get("/v1.0/healthz")
        assert r.status_code == 500
        body = r.json()
        assert body["errorCode"] == "ERR_HEALTH_NOT_READY"
        assert body["message"].startswith("dapr is not ready: [")
        assert "app channel" in body["message"] and str(port) in body["message"]
        assert http.get("/v1.0/healthz/outbound").status_code == 204

        spawn.app(port=port)
        wait_http(sidecar.url + "/v1.0/healthz", timeout=5, expect=(204,))
        r = http.get("/v1.0/healthz")
        assert r.status_code == 204
        assert r.content == b""
        assert http.get("/v1.0/healthz/outbound").status_code == 204


def test_ready_without_app_port_and_appid_must_match(spawn):
    sidecar = spawn.sidecar("alone")
    with sidecar.client() as http:
        assert http.get("/v1.0/healthz").status_code == 204
        assert http.get("/v1.0/healthz/outbound").status_code == 204
        assert http.get("/v1.0/healthz", params={"appid": "alone"}).status_code == 204
        r = http.get("/v1.0/healthz", params={"appid": "other"})
        assert r.status_code == 500
        assert r.json() == {"errorCode": "ERR_HEALTH_APPID_NOT_MATCH",
                            "message": "dapr app-id does not match"}


def test_app_stopping_does_not_affect_outbound(spawn):
    app = spawn.app()
    sidecar = spawn.sidecar("withapp", app_port=app.port, wait="ready")
    app.stop()
    with sidecar.client() as http:
        assert http.get("/v1.0/healthz/outbound").status_code == 204
