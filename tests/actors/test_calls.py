"""Actor method calls, state and turns, through a real sidecar and app."""

from __future__ import annotations

import itertools
import sqlite3
from concurrent.futures import ThreadPoolExecutor

from tests.harness import wait_until, write_component


def test_call_state_roundtrip_and_storage_key(host, tmp_path):
    device = host()
    answer = device.call("Device", "pump-1", "save", [
        {"operation": "upsert", "request": {"key": "reading", "value": {"temp": 21.5}}},
        {"operation": "upsert", "request": {"key": "gone", "value": 1}},
        {"operation": "delete", "request": {"key": "gone"}}])
    assert answer.status_code == 200 and answer.json()["status"] == 204, answer.text
    got = device.http.get("/v1.0/actors/Device/pump-1/state/reading")
    assert got.status_code == 200 and got.json() == {"temp": 21.5}
    assert device.http.get("/v1.0/actors/Device/pump-1/state/gone").status_code == 204
    assert device.http.get("/v1.0/actors/Device/pump-2/state/reading").status_code == 204
    with sqlite3.connect(tmp_path / "actors.db") as db:
        keys = [row[0] for row in db.execute("SELECT key FROM state")]
    # Dapr's actor state namespace, so external tools find it where they expect.
    assert f"{device.sidecar.app_id}||Device||pump-1||reading" in keys
    meta = device.http.get("/v1.0/metadata").json()
    assert meta["actors"] == [{"type": "Device", "count": 1}]
    assert meta["actorRuntime"]["runtimeStatus"] == "RUNNING"


def test_actor_ids_reach_the_app_as_one_path_segment(host):
    device = host()
    answer = device.http.post("/v1.0/actors/Device/line%2F3%20a/method/sleep", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == "line/3 a"


def test_calls_to_one_actor_take_turns_in_order(host):
    device = host()
    with ThreadPoolExecutor(6) as pool:
        same = list(pool.map(lambda n: device.call("Device", "one", "sleep", {"seconds": 0.2}),
                             range(4)))
        others = list(pool.map(lambda n: device.call("Device", f"other-{n}", "sleep",
                                                     {"seconds": 0.5}), range(3)))
    assert all(r.status_code == 200 for r in same + others)
    calls = device.events("call")
    mine = sorted((e for e in calls if e["id"] == "one"), key=lambda e: e["start"])
    for before, after in itertools.pairwise(mine):
        assert before["end"] <= after["start"], "two calls of one actor overlapped"
    # Different actors do not wait for each other.
    rest = sorted((e for e in calls if e["id"].startswith("other-")), key=lambda e: e["start"])
    assert rest[-1]["start"] < rest[0]["end"]


def test_reentrant_call_goes_in_with_its_chain_id(host):
    device = host("Device,Robot", REENTRANT_TYPES="Robot")
    answer = device.call("Robot", "r1", "reenter")
    assert answer.status_code == 200 and answer.json()["status"] == 200, answer.text
    calls = [e for e in device.events("call") if e["id"] == "r1"]
    assert [c["method"] for c in calls] == ["reenter", "sleep"]
    assert calls[0]["reentrancy"] and calls[0]["reentrancy"] == calls[1]["reentrancy"]
    # Without reentrancy the sidecar sends no chain id.
    device.call("Device", "d1", "sleep", {"seconds": 0})
    assert device.events("call")[-1]["reentrancy"] is None


def test_idle_actors_are_deactivated(host):
    device = host(ACTOR_IDLE="500ms", ACTOR_SCAN="200ms")
    device.call("Device", "sleepy", "sleep", {"seconds": 0})
    found = wait_until(lambda: device.events("deactivate"), what="a deactivation")
    assert [(e["type"], e["id"]) for e in found] == [("Device", "sleepy")]


def test_errors(host, spawn, tmp_path):
    device = host()
    answer = device.call("Nobody", "x", "go")
    assert answer.status_code == 500 and answer.json()["errorCode"] == "ERR_ACTOR_INVOKE_METHOD"
    assert "Nobody" in answer.json()["message"]
    bad = device.http.post("/v1.0/actors/Device/x/state", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["errorCode"] == "ERR_MALFORMED_REQUEST"
    foreign = device.http.post("/v1.0/actors/Other/x/state", json=[
        {"operation": "upsert", "request": {"key": "k", "value": 1}}])
    assert foreign.status_code == 400
    assert foreign.json()["errorCode"] == "ERR_ACTOR_INSTANCE_MISSING"
    # A sidecar without an actor state store has no actor runtime.
    plain = spawn.sidecar("plain", write_component(
        tmp_path / "plain", "statestore", "state.sqlite",
        {"connectionString": str(tmp_path / "p.db")}).parent)
    with plain.client() as http:
        answer = http.post("/v1.0/actors/Device/x/method/go")
        assert answer.status_code == 500
        assert answer.json()["errorCode"] == "ERR_ACTOR_RUNTIME_NOT_FOUND"
        assert "actorStateStore" in answer.json()["message"]
