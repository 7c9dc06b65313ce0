"""Timers and reminders: firing, repetitions, persistence across a restart."""

from __future__ import annotations

import time

from tests.harness import wait_until


def reminders(device, name: str) -> list[dict]:
    return [e for e in device.events("remind") if e["name"] == name]


def test_timer_fires_with_its_callback_and_data_then_can_be_deleted(host):
    device = host()
    answer = device.call("Device", "t1", "timer", {
        "name": "tick", "dueTime": "0s", "period": "200ms", "callback": "onTick",
        "data": {"n": 1}})
    assert answer.json()["status"] == 204, answer.text
    fired = wait_until(lambda: [e for e in device.events("timer") if e["name"] == "tick"][2:],
                       what="three timer firings")
    assert fired[0]["body"] == {"data": {"n": 1}, "callback": "onTick", "dueTime": "0s",
                                "period": "200ms"}
    assert device.http.delete("/v1.0/actors/Device/t1/timers/tick").status_code == 204
    count = len(device.events("timer"))
    time.sleep(0.6)
    assert len(device.events("timer")) in (count, count + 1)  # one may have been in flight


def test_a_zero_period_fires_once(host):
    device = host()
    device.call("Device", "t3", "timer", {"name": "once", "dueTime": "0s", "period": "0s"})
    device.http.post("/v1.0/actors/Device/t3/reminders/once", json={"period": "0h0m0s0ms"})
    wait_until(lambda: device.events("timer") and reminders(device, "once"),
               what="the one-shot timer and reminder")
    time.sleep(0.5)
    assert len(device.events("timer")) == 1 and len(reminders(device, "once")) == 1


def test_timer_needs_a_hosted_actor_and_a_valid_schedule(host):
    device = host()
    bad = device.http.post("/v1.0/actors/Device/t2/timers/x", json={"dueTime": "soon"})
    assert bad.status_code == 500 and bad.json()["errorCode"] == "ERR_ACTOR_TIMER_CREATE"
    elsewhere = device.http.post("/v1.0/actors/Nobody/t2/timers/x", json={"dueTime": "1s"})
    assert elsewhere.status_code == 400
    assert elsewhere.json()["errorCode"] == "ERR_ACTOR_INSTANCE_MISSING"


def test_reminder_create_get_fire_and_delete(host):
    device = host()
    spec = {"dueTime": "100ms", "period": "R2/PT0.3S", "data": "payload"}
    assert device.http.post("/v1.0/actors/Device/r1/reminders/wake",
                            json=spec).status_code == 204
    got = device.http.get("/v1.0/actors/Device/r1/reminders/wake")
    assert got.status_code == 200
    assert got.json() == {"dueTime": "100ms", "period": "R2/PT0.3S", "data": "payload"}
    fired = wait_until(lambda: reminders(device, "wake")[1:], what="two reminder firings")
    assert fired[0]["body"] == {"data": "payload", "dueTime": "100ms", "period": "R2/PT0.3S"}
    time.sleep(0.8)
    assert len(reminders(device, "wake")) == 2  # R2: twice, then it is gone
    missing = device.http.get("/v1.0/actors/Device/r1/reminders/wake")
    assert missing.status_code == 500
    assert missing.json()["errorCode"] == "ERR_ACTOR_REMINDER_GET"

    device.http.post("/v1.0/actors/Device/r1/reminders/later", json={"dueTime": "1h"})
    assert device.http.delete("/v1.0/actors/Device/r1/reminders/later").status_code == 204
    assert device.http.get("/v1.0/actors/Device/r1/reminders/later").status_code == 500
    bad = device.http.post("/v1.0/actors/Device/r1/reminders/x", json={"period": "often"})
    assert bad.status_code == 500 and bad.json()["errorCode"] == "ERR_ACTOR_REMINDER_CREATE"


def test_reminders_survive_a_restart_timers_do_not(host):
    first = host()
    first.http.post("/v1.0/actors/Device/d1/reminders/keep", json={"dueTime": "1s",
                                                                   "period": "300ms"})
    first.call("Device", "d1", "timer", {"name": "lost", "dueTime": "1s", "period": "300ms"})
    assert first.sidecar.stop() == 0
    assert first.events("timer") == [] and reminders(first, "keep") == []
    second = host()  # a new sidecar and app on the same state store
    wait_until(lambda: reminders(second, "keep")[1:], what="the reminder after the restart")
    time.sleep(0.5)
    assert second.events("timer") == []
