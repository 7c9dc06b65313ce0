"""Trace context across actor calls between two sidecars, and through bulk
publish and bulk delivery, checked on the spans a real Zipkin receiver gets."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.actors.conftest import APP, actor_resources
from tests.conftest import Spawner
from tests.harness import Process, free_port, wait_http, wait_until
from tests.pubsub.helpers import Subscriber, in_memory, new_topic, write_docs
from tests.tracing.conftest import Collector, check_zipkin, write_config
from tests.tracing.test_tracing import PARENT_ID, TRACE_ID, _ids, _one

CALL_ACTOR = "/dapr.proto.internals.v1.ServiceInvocation/CallActor"


def _actor_host(spawn: Spawner, tmp_path: Path, config: Path) -> tuple[str, int]:
    """An actor app and its traced sidecar; (the sidecar's URL, the app's port)."""
    resources = actor_resources(tmp_path / "resources", tmp_path / "actors.db")
    app_port, http_port = free_port(), free_port()
    app = spawn.track(Process([sys.executable, str(APP), str(app_port)],
                              tmp_path / f"actor-app-{app_port}.log",
                              {"ACTOR_TYPES": "Device", "DAPR_HTTP_PORT": str(http_port)},
                              cwd=tmp_path))
    wait_http(f"http://127.0.0.1:{app_port}/healthz", proc=app.proc, expect=(200,))
    sidecar = spawn.sidecar(f"host{app_port}", resources, app_port=app_port,
                            http_port=http_port, wait="ready", args=["--config", str(config)])
    return sidecar.url, app_port


def _app_saw(app_port: int, actor_id: str) -> str:
    events = httpx.get(f"http://127.0.0.1:{app_port}/events", timeout=5).json()
    return [e for e in events if e["kind"] == "call" and e["id"] == actor_id][-1]["traceparent"]


def test_actor_call_forwarded_to_its_host_is_one_trace(spawn: Spawner, tmp_path: Path,
                                                       collector: Collector) -> None:
    config = write_config(tmp_path / "tracing.yaml", "1", collector.url)
    a_url, a_app = _actor_host(spawn, tmp_path, config)
    _, b_app = _actor_host(spawn, tmp_path, config)

    def where(actor_id: str) -> int:
        reply = httpx.post(f"{a_url}/v1.0/actors/Device/{actor_id}/method/whoami", json={},
                           timeout=10)
        return reply.json()["port"]

    # An actor that lives on b, reached through a.
    remote = wait_until(lambda: next((f"d{n}" for n in range(40) if where(f"d{n}") == b_app),
                                     None), what="an actor hosted by b")
    reply = httpx.post(f"{a_url}/v1.0/actors/Device/{remote}/method/whoami", json={},
                       headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}, timeout=10)
    assert reply.status_code == 200
    assert _ids(reply.headers["traceparent"])[0] == TRACE_ID

    spans = collector.wait_for(TRACE_ID, 3)
    for span in spans:
        check_zipkin(span)
    a_name, b_name = f"host{a_app}", f"host{b_app}"
    api = _one(spans, a_name, "SERVER")
    assert api["parentId"] == PARENT_ID
    assert api["name"] == "CallActor/Device/whoami"
    assert api["tags"]["dapr.actor"] == f"Device.{remote}"
    assert api["tags"]["rpc.service"] == "ServiceInvocation"
    sent = _one(spans, a_name, "CLIENT")
    assert sent["parentId"] == api["id"] and sent["name"] == CALL_ACTOR
    received = _one(spans, b_name, "SERVER")
    assert received["parentId"] == sent["id"] and received["name"] == CALL_ACTOR
    assert received["tags"]["dapr.status_code"] == "200"
    # The app on b is called from b's span, in the same trace.
    assert _ids(_app_saw(b_app, remote)) == (TRACE_ID, received["id"])


def test_local_actor_call_hands_the_app_the_sidecars_span(spawn: Spawner, tmp_path: Path,
                                                          collector: Collector) -> None:
    config = write_config(tmp_path / "tracing.yaml", "1", collector.url)
    url, app_port = _actor_host(spawn, tmp_path, config)
    reply = httpx.post(f"{url}/v1.0/actors/Device/lamp/method/switch", json={}, timeout=10)
    assert reply.status_code == 200
    trace_id, api_id = _ids(reply.headers["traceparent"])
    api = _one(collector.wait_for(trace_id, 1), f"host{app_port}", "SERVER")
    assert api["name"] == "CallActor/Device/switch" and api["id"] == api_id
    assert _ids(_app_saw(app_port, "lamp")) == (trace_id, api_id)


def test_bulk_publish_and_bulk_delivery_share_the_trace(spawn: Spawner, tmp_path: Path,
                                                        collector: Collector) -> None:
    config = write_config(tmp_path / "tracing.yaml", "1", collector.url)
    resources = tmp_path / "resources"
    write_docs(resources / "pubsub.yaml", in_memory("bus"))
    topic = new_topic("bulktraced")
    subscriber = spawn.track(Subscriber(tmp_path, [
        {"pubsubname": "bus", "topic": topic, "route": "/batch",
         "bulkSubscribe": {"enabled": True, "maxMessagesCount": 10,
                           "maxAwaitDurationMs": 200}}]))
    assert isinstance(subscriber, Subscriber)
    sidecar = spawn.sidecar("batcher", resources, app_port=subscriber.port, wait="ready",
                            args=["--config", str(config)])
    entries = [{"entryId": str(n), "event": {"n": n}, "contentType": "application/json"}
               for n in range(2)]
    reply = httpx.post(f"{sidecar.url}/v1.0-alpha1/publish/bulk/bus/{topic}", json=entries,
                       headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}, timeout=10)
    assert reply.status_code == 204, reply.text

    def delivered() -> list[dict] | None:
        found = [e["event"] for d in subscriber.received(topic) if d["path"] == "/batch"
                 for e in d["json"]["entries"]]
        return found if len(found) >= 2 else None

    events = wait_until(delivered, what="both entries delivered, in one batch or two")

    spans = collector.wait_for(TRACE_ID, 4)
    for span in spans:
        check_zipkin(span)
    api = _one(spans, "batcher", "SERVER")
    produced = _one(spans, "batcher", "PRODUCER")
    assert api["parentId"] == PARENT_ID
    assert produced["parentId"] == api["id"] and produced["name"] == f"pubsub/{topic}"
    assert produced["tags"]["messaging.batch.message_count"] == "2"
    # Each event carries the producer span's context ...
    assert {_ids(e["traceparent"]) for e in events} == {(TRACE_ID, produced["id"])}
    # ... and each entry's delivery is a consumer span under it.
    consumed = [s for s in spans if s["kind"] == "CONSUMER"]
    assert len(consumed) == 2
    for span in consumed:
        assert span["parentId"] == produced["id"] and span["name"] == f"pubsub/{topic}"
        assert span["tags"]["messaging.destination.name"] == topic
