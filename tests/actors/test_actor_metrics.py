"""Actor metrics with Dapr's names and labels, scraped from a hosting sidecar
after real timers, reminders, queued calls and deactivations."""

from __future__ import annotations

import threading

from tests.harness import Sidecar, wait_until
from tests.metrics.helpers import Scrape


def _port(sidecar: Sidecar) -> int:
    return int(sidecar.args[sidecar.args.index("--metrics-port") + 1])


def _scrape_until(sidecar: Sidecar, check, what: str) -> Scrape:
    def ready() -> Scrape | None:
        scrape = Scrape(_port(sidecar))
        return scrape if check(scrape) else None

    return wait_until(ready, what=what)


def test_timers_reminders_and_deactivations_are_counted(host):
    a = host(ACTOR_IDLE="1s", ACTOR_SCAN="200ms")
    timer = {"name": "poll", "dueTime": "0s", "period": "100ms"}
    assert a.call("Device", "d1", "timer", timer).json()["status"] == 204
    first = _scrape_until(a.sidecar, lambda s: s.value(
        "dapr_runtime_actor_timers_fired_total", actor_type="Device", success="true") >= 2,
        "the timer to fire twice")
    assert first.value("dapr_runtime_actor_timers", actor_type="Device") == 1
    assert first.types()["dapr_runtime_actor_timers"] == "gauge"

    for name, due in (("later", "1h"), ("now", "0s")):
        reply = a.http.post(f"/v1.0/actors/Device/d2/reminders/{name}", json={"dueTime": due})
        assert reply.status_code == 204
    # The one-shot reminder fires and is gone; the other waits.
    fired = _scrape_until(a.sidecar, lambda s: s.value(
        "dapr_runtime_actor_reminders_fired_total", actor_type="Device", success="true") == 1
        and s.value("dapr_runtime_actor_reminders", actor_type="Device") == 1,
        "the due reminder to fire")
    assert fired.value("edge_actor_reminders_pending", actor_type="Device") == 1
    assert fired.types()["dapr_runtime_actor_reminders_fired_total"] == "counter"

    # Idle for a second: both actors are deactivated, and d1's timer ends with it.
    done = _scrape_until(a.sidecar, lambda s: s.value(
        "dapr_runtime_actor_deactivated_total", actor_type="Device") >= 2,
        "the idle actors to be deactivated")
    assert done.value("dapr_runtime_actor_timers", actor_type="Device") == 0
    assert not done.find("dapr_runtime_actor_deactivated_failed_total")
    # Actor ids never become label values.
    assert not {"d1", "d2"} & done.label_values()


def test_calls_waiting_for_a_busy_actor_are_pending(host):
    a = host()
    results: list[int] = []

    def call(seconds: float) -> None:
        with a.sidecar.client() as http:  # a client of its own in each thread
            results.append(http.post("/v1.0/actors/Device/busy/method/sleep",
                                     json={"seconds": seconds}).status_code)

    slow = threading.Thread(target=call, args=(3,))
    slow.start()
    wait_until(lambda: any(e["id"] == "busy" for e in a.events("call")),
               what="the first call to reach the app")
    queued = threading.Thread(target=call, args=(0,))
    queued.start()
    _scrape_until(a.sidecar, lambda s: s.value("dapr_runtime_actor_pending_actor_calls",
                                               actor_type="Device") == 1,
                  "the second call to wait for its turn")
    slow.join(20)
    queued.join(20)
    assert results == [200, 200]
    after = Scrape(_port(a.sidecar))
    assert after.value("dapr_runtime_actor_pending_actor_calls", actor_type="Device") == 0
