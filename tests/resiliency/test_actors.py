"""Resiliency policies on actor calls."""

from __future__ import annotations

from tests.actors.conftest import actor_resources
from tests.resiliency.conftest import write_resiliency


def test_actor_retry_and_timeout(host, tmp_path):
    folder = actor_resources(tmp_path / "res", tmp_path / "actors.db")
    write_resiliency(folder, {
        "policies": {"retries": {"retry3": {"policy": "constant", "duration": "10ms",
                                            "maxRetries": 3}},
                     "timeouts": {"quick": "300ms"}},
        "targets": {"actors": {"Device": {"retry": "retry3", "timeout": "quick"}}}})
    h = host("Device", folder)
    answer = h.call("Device", "d1", "flaky", {"fails": 2})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"tries": 3}
    # The timeout cuts each try of a slow method short; every try is retried.
    slow = h.call("Device", "d2", "sleep", {"seconds": 5})
    assert slow.status_code == 500
    assert slow.json()["errorCode"] == "ERR_ACTOR_INVOKE_METHOD"
    assert "timed out" in slow.json()["message"]
    assert len([e for e in h.events("call") if e["id"] == "d2"]) == 4


def test_actor_breaker_scoped_by_id(host, tmp_path):
    folder = actor_resources(tmp_path / "res", tmp_path / "actors.db")
    write_resiliency(folder, {
        "policies": {"circuitBreakers": {"cb": {"trip": "consecutiveFailures >= 2",
                                                "timeout": "60s"}}},
        "targets": {"actors": {"Device": {"circuitBreaker": "cb",
                                          "circuitBreakerScope": "id"}}}})
    h = host("Device", folder)
    for _ in range(2):
        assert h.call("Device", "bad", "flaky", {"fails": 100}).status_code == 500
    refused = h.call("Device", "bad", "flaky", {"fails": 100})
    assert refused.status_code == 500
    assert "circuit breaker is open" in refused.json()["message"]
    assert len([e for e in h.events("call") if e["id"] == "bad"]) == 2
    # Another actor of the type has a breaker of its own.
    assert h.call("Device", "good", "flaky", {"fails": 0}).status_code == 200
