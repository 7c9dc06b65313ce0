"""Resiliency policies on service invocation, against a flaky real app."""

from __future__ import annotations

import time

import httpx

from tests.harness import wait_until

RETRY3 = {"policy": "constant", "duration": "10ms", "maxRetries": 3}
TARGET = {"apps": {"server": {"retry": "retry3"}}}


def test_retry_policy_retries_failed_calls_until_one_succeeds(pair):
    p = pair({"policies": {"retries": {"retry3": RETRY3}}, "targets": TARGET})
    response = p.invoke("fail/2/a")
    assert response.status_code == 200, response.text
    assert response.json() == {"calls": 3}
    labels = {"app_id": "caller", "name": "myresiliency", "flow_direction": "outbound",
              "target": "app_server"}
    assert p.metric("dapr_resiliency_count_total", policy="retry", **labels) == 1
    assert p.metric("dapr_resiliency_activations_total", policy="retry", **labels) == 2
    assert p.metric("dapr_resiliency_loaded_total", name="myresiliency") == 1


def test_retries_spent_return_the_apps_own_answer(pair):
    p = pair({"policies": {"retries": {"retry3": RETRY3}}, "targets": TARGET})
    response = p.invoke("status/503/b")
    # The app's status and body come back as the app gave them, after 1 + 3 tries.
    assert response.status_code == 503
    assert response.json() == {"calls": 4}


def test_matching_status_codes_limit_what_is_retried(pair):
    retry = {**RETRY3, "matching": {"httpStatusCodes": "429,502-504"}}
    p = pair({"policies": {"retries": {"retry3": retry}}, "targets": TARGET})
    assert p.invoke("fail/1/c?code=500").status_code == 500  # not listed: one try
    assert p.calls("/fail/1/c") == 1
    assert p.invoke("fail/1/d?code=503").status_code == 200  # in 502-504: retried
    assert p.calls("/fail/1/d") == 2


def test_no_policy_means_one_try(pair):
    p = pair({"policies": {"retries": {"retry3": RETRY3}}, "targets": {"apps": {}}})
    assert p.invoke("fail/1/e").status_code == 503
    assert p.calls("/fail/1/e") == 1


def test_timeout_policy_cuts_a_slow_call_short(pair):
    p = pair({"policies": {"timeouts": {"quick": "300ms"}},
              "targets": {"apps": {"server": {"timeout": "quick"}}}})
    started = time.monotonic()
    response = p.invoke("slow/5000/f")
    assert response.status_code == 504, response.text
    assert response.json()["errorCode"] == "ERR_DIRECT_INVOKE"
    assert "timed out" in response.json()["message"]
    assert time.monotonic() - started < 4.5  # did not wait for the app's 5 s
    assert p.metric("dapr_resiliency_activations_total", policy="timeout",
                        target="app_server") == 1
    # A fast call under the same policy is untouched.
    assert p.invoke("slow/10/g").status_code == 200


def test_circuit_breaker_opens_then_half_opens_and_closes(pair):
    breaker = {"maxRequests": 1, "timeout": "1s", "trip": "consecutiveFailures >= 2"}
    p = pair({"policies": {"circuitBreakers": {"cb": breaker}},
              "targets": {"apps": {"server": {"circuitBreaker": "cb"}}}})
    assert p.invoke("switch/h").status_code == 500
    assert p.invoke("switch/h").status_code == 500
    refused = p.invoke("switch/h")
    assert refused.status_code == 500
    assert refused.json()["errorCode"] == "ERR_DIRECT_INVOKE"
    assert "circuit breaker is open" in refused.json()["message"]
    assert p.calls("/switch/h") == 2  # the open breaker kept the third call from the app
    labels = {"policy": "circuitbreaker", "target": "app_server", "flow_direction": "outbound"}
    assert p.metric("dapr_resiliency_cb_state", status="open", **labels) == 1
    assert p.metric("dapr_resiliency_cb_state", status="closed", **labels) == 0
    assert p.metric("dapr_resiliency_activations_total", status="open", **labels) == 1

    httpx.put(f"{p.app.url}/up")
    # After the breaker's timeout one call goes through (half-open); it succeeds,
    # so the breaker closes and traffic flows again.
    wait_until(lambda: p.invoke("switch/h").status_code == 200, timeout=10)
    assert p.invoke("switch/h").status_code == 200
    assert p.metric("dapr_resiliency_cb_state", status="closed", **labels) == 1
    assert p.metric("dapr_resiliency_activations_total", status="half-open", **labels) == 1


def test_default_app_policy_applies_to_apps_without_a_target(pair):
    p = pair({"policies": {"retries": {"DefaultAppRetryPolicy": RETRY3}}})
    assert p.invoke("fail/2/i").status_code == 200
    assert p.calls("/fail/2/i") == 3


def test_a_named_target_replaces_the_defaults(pair):
    # server names only a timeout, so the default retry does not apply to it.
    p = pair({"policies": {"retries": {"DefaultRetryPolicy": RETRY3},
                           "timeouts": {"long": "10s"}},
              "targets": {"apps": {"server": {"timeout": "long"}}}})
    assert p.invoke("fail/1/j").status_code == 503
    assert p.calls("/fail/1/j") == 1


def test_scopes_leave_other_apps_alone(pair):
    p = pair({"policies": {"retries": {"retry3": RETRY3}}, "targets": TARGET},
             scopes=["someone-else"])
    assert p.invoke("fail/1/k").status_code == 503
    assert p.calls("/fail/1/k") == 1
    assert p.metric("dapr_resiliency_loaded_total") == 0
