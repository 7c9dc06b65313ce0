"""Reading Resiliency files: what a wrong one answers, and the policies'
own rules (breaker states, back-off) checked on their logic."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edge.runtime.config import load_configuration
from edge.runtime.resiliency import Resiliency
from edge.runtime.resiliency.breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpen, CircuitBreaker
from edge.runtime.resiliency.policy import backoff
from edge.runtime.resiliency.spec import parse_resiliency
from tests.resiliency.conftest import write_resiliency
from tests.runtime.helpers import failed_start


def _doc(spec: dict) -> dict:
    return {"apiVersion": "dapr.io/v1alpha1", "kind": "Resiliency",
            "metadata": {"name": "r"}, "spec": spec}


@pytest.mark.parametrize(("spec", "field"), [
    ({"policies": {"timeouts": {"t": "soon"}}}, "spec.policies.timeouts.t"),
    ({"policies": {"retries": {"r": {"policy": "linear"}}}}, "spec.policies.retries.r.policy"),
    ({"policies": {"retries": {"r": {"maxRetries": "many"}}}},
     "spec.policies.retries.r.maxRetries"),
    ({"policies": {"circuitBreakers": {"cb": {"trip": "consecutiveFailures >"}}}},
     "spec.policies.circuitBreakers.cb.trip"),
    ({"targets": {"apps": {"b": {"retry": "missing"}}}}, "spec.targets.apps.b.retry"),
    ({"policies": {"circuitBreakers": {"cb": {}}},
      "targets": {"actors": {"A": {"circuitBreaker": "cb"}}}},
     "spec.targets.actors.A.circuitBreakerScope"),
    ({"targets": {"components": {"s": {"outbound": ["retry"]}}}},
     "spec.targets.components.s.outbound"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_a_wrong_file_stops_the_sidecar_naming_file_and_field(spawn, tmp_path: Path, spec,
                                                              field):
    path = write_resiliency(tmp_path / "resources", spec)
    output = failed_start(spawn, tmp_path / "resources")
    line = next(x for x in output.splitlines() if "cannot start" in x)
    assert f"file {path}" in line
    assert f"field '{field}'" in line
    assert "Resiliency 'myresiliency'" in line


def test_bad_status_code_entries_are_logged_and_skipped(caplog):
    spec = {"policies": {"retries": {"r": {"matching": {
        "httpStatusCodes": "500,502-504,15,404-405-500,-1,,abc"}}}}}
    with caplog.at_level("ERROR", logger="edge.runtime.resiliency"):
        resource = parse_resiliency(_doc(spec), "res.yaml")
    assert resource.retries["r"].http_codes == frozenset({500, 502, 503, 504})
    for entry in ("'15'", "'404-405-500'", "'-1'", "'abc'"):
        assert entry in caplog.text


def test_built_in_retries_may_not_go_below_three(caplog):
    spec = {"policies": {"retries": {"DaprBuiltInServiceRetries": {"maxRetries": 1}}}}
    resiliency = Resiliency([parse_resiliency(_doc(spec), "res.yaml")])
    policy = resiliency.built_in("DaprBuiltInServiceRetries")
    assert policy.retry is not None and policy.retry.max_retries == 3


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock, **fields: object) -> tuple[CircuitBreaker, list[str]]:
    spec = {"policies": {"circuitBreakers": {"cb": fields}}}
    breaker_spec = parse_resiliency(_doc(spec), "res.yaml").breakers["cb"]
    changes: list[str] = []
    return CircuitBreaker(breaker_spec, "k", changes.append, clock), changes


def _fail(breaker: CircuitBreaker) -> None:
    breaker.before()
    breaker.failure()


def test_breaker_trips_waits_half_opens_and_closes():
    clock = Clock()
    breaker, changes = _breaker(clock, maxRequests=2, timeout="30s",
                                trip="consecutiveFailures > 2")
    for _ in range(3):
        _fail(breaker)
    assert breaker.current() == OPEN
    with pytest.raises(BreakerOpen, match="circuit breaker is open"):
        breaker.before()
    clock.now += 30
    assert breaker.current() == HALF_OPEN
    breaker.before()
    breaker.before()
    with pytest.raises(BreakerOpen, match="too many requests"):
        breaker.before()  # maxRequests: 2 calls at a time while half-open
    breaker.success()
    assert breaker.current() == HALF_OPEN
    breaker.success()
    assert breaker.current() == CLOSED
    assert changes == [OPEN, HALF_OPEN, CLOSED]


def test_a_failure_while_half_open_opens_again():
    clock = Clock()
    breaker, changes = _breaker(clock, timeout="5s", trip="consecutiveFailures >= 1")
    _fail(breaker)
    clock.now += 5
    _fail(breaker)
    assert breaker.current() == OPEN
    assert changes == [OPEN, HALF_OPEN, OPEN]


def test_total_failures_trip_and_interval_clears_counts():
    clock = Clock()
    breaker, _ = _breaker(clock, interval="10s", trip="totalFailures > 2")
    for _ in range(2):
        _fail(breaker)
        breaker.before()
        breaker.success()  # successes between do not reset totalFailures
    clock.now += 10  # ...but the interval does
    for _ in range(2):
        _fail(breaker)
    assert breaker.current() == CLOSED
    _fail(breaker)
    assert breaker.current() == OPEN


def test_requests_trip():
    breaker, _ = _breaker(Clock(), trip="requests > 3 && totalFailures >= 1")
    for _ in range(3):
        breaker.before()
        breaker.success()
    _fail(breaker)
    assert breaker.current() == OPEN


def test_default_trip_is_more_than_five_consecutive_failures():
    breaker, _ = _breaker(Clock())
    for _ in range(5):
        _fail(breaker)
    assert breaker.current() == CLOSED
    _fail(breaker)
    assert breaker.current() == OPEN


def _retry(**fields: object):
    spec = {"policies": {"retries": {"r": fields}}}
    return parse_resiliency(_doc(spec), "res.yaml").retries["r"]


def test_backoff_constant_and_exponential():
    assert list(backoff(_retry(duration="2s", maxRetries=3))) == [2.0, 2.0, 2.0]
    assert list(backoff(_retry(maxRetries=0))) == []
    waits = list(backoff(_retry(policy="exponential", maxInterval="3s", maxRetries=8)))
    assert len(waits) == 8
    # From about 0.5 s, growing by 1.5 with a spread of ±50 %, never above maxInterval.
    assert 0.25 <= waits[0] <= 0.75
    assert all(0 < w <= 3.0 for w in waits)
    assert waits[-1] >= 1.5
    forever = backoff(_retry(duration="1ms"))  # maxRetries defaults to -1: no end
    assert len([next(forever) for _ in range(1000)]) == 1000


def test_readme_ready_files_load_without_warnings(tmp_path: Path, caplog):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### A device, ready to observe", 1)[1].split("\n## ", 1)[0]
    config_text, resiliency_text = [block.split("```", 1)[0]
                                    for block in section.split("```yaml\n")[1:3]]
    (tmp_path / "config.yaml").write_text(config_text)
    (tmp_path / "resiliency.yaml").write_text(resiliency_text)
    with caplog.at_level("WARNING"):
        config = load_configuration(str(tmp_path / "config.yaml"))
        resiliency = Resiliency.load([(str(tmp_path / "resiliency.yaml"),
                                       yaml.safe_load(resiliency_text))], "orders")
    assert not caplog.records, caplog.text
    assert config.tracing.sampling_rate == 1.0
    policy = resiliency.app("inventory")
    assert policy.timeout == 5.0 and policy.retry is not None and policy.breaker is not None
    assert policy.retry.http_codes == frozenset({429, 500, 501, 502, 503, 504})
    other = resiliency.app("billing")  # not named: the default retry
    assert other.retry is not None and other.retry.name == "DefaultRetryPolicy"
    inbound = resiliency.component("mqtt", "Pubsub", "inbound")
    assert inbound.retry is not None and inbound.retry.name == "deliver"
