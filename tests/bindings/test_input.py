"""Input bindings: bindings.cron events delivered to a real app, the OPTIONS
probe, routes, direction, and retries when the app fails."""

from __future__ import annotations

import base64
import time

from tests.bindings.conftest import Receiver
from tests.harness import write_component


def start(spawn, tmp_path, bindings, **receiver):
    resources = tmp_path / "resources"
    for name, metadata in bindings.items():
        write_component(resources, name, "bindings.cron", {"schedule": "@every 1s", **metadata})
    app = spawn.track(Receiver(tmp_path, **receiver))
    sidecar = spawn.sidecar("cronapp", resources, app_port=app.port, wait="ready")
    return app, sidecar


def test_cron_events_reach_the_app_with_metadata_headers(spawn, tmp_path):
    app, sidecar = start(spawn, tmp_path, {"tick": {}})
    first, second = app.wait_for(2, "/tick")[:2]
    for event in (first, second):
        assert event["headers"]["timezone"] == "Local"
        assert event["headers"]["readtimeutc"].endswith(" +0000 UTC")
        assert event["headers"]["content-type"] == "application/json"
        assert base64.b64decode(event["body_base64"]) == b""
    assert first["headers"]["readtimeutc"] < second["headers"]["readtimeutc"]
    assert app.received()["probes"] == ["/tick"]
    [component] = sidecar.client().get("/v1.0/metadata").json()["components"]
    assert component["capabilities"] == ["INPUT_BINDING"]


def test_probe_route_and_direction_decide_what_starts(spawn, tmp_path):
    app, sidecar = start(spawn, tmp_path, {
        "routed": {"route": "/ticks"},
        "unserved": {},
        "explicit": {"direction": "input", "route": "explicit"},
        "outonly": {"direction": "output"},
    }, routes="/ticks,/explicit")
    app.wait_for(2, "/ticks")
    app.wait_for(2, "/explicit")
    time.sleep(0.3)
    seen = app.received()
    # The explicit input binding is not probed, nor is one meant for output only.
    assert sorted(seen["probes"]) == ["/ticks", "/unserved"]
    assert {e["path"] for e in seen["events"]} == {"/ticks", "/explicit"}
    assert "app has not subscribed to binding unserved" in sidecar.output()


def test_failed_deliveries_are_retried_in_order(spawn, tmp_path):
    app, _ = start(spawn, tmp_path, {"tick": {}}, fail=2)
    events = app.wait_for(4, "/tick")
    assert [e["answer"] for e in events[:4]] == [500, 500, 200, 200]
    # The same tick is redelivered, then the schedule goes on from now.
    first = {e["headers"]["readtimeutc"] for e in events[:3]}
    assert len(first) == 1
    assert events[3]["headers"]["readtimeutc"] > events[0]["headers"]["readtimeutc"]
