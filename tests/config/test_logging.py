"""JSON logs and API logging turned on from the Configuration file
(spec.logging.apiLogging), read from a real sidecar's output lines."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import httpx

from tests.harness import wait_until
from tests.runtime.helpers import write_docs

TOKEN = "tok-never-logged-4321"
DAPR_FIELDS = {"time", "level", "msg", "scope", "type", "ver", "app_id", "instance"}


def _config(path: Path, api_logging: dict[str, Any]) -> Path:
    return write_docs(path, {"apiVersion": "dapr.io/v1alpha1", "kind": "Configuration",
                             "metadata": {"name": "logs"},
                             "spec": {"logging": {"apiLogging": api_logging}}})


def _entries(output: str) -> list[dict[str, Any]]:
    lines = [line for line in output.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_config_turns_on_api_logging_as_json_without_health_checks(spawn, tmp_path: Path):
    config = _config(tmp_path / "config.yaml", {"enabled": True, "omitHealthChecks": True})
    sidecar = spawn.sidecar("jsonapi", args=["--log-as-json", "--config", str(config)],
                            env={"DAPR_API_TOKEN": TOKEN})
    with sidecar.client(headers={"dapr-api-token": TOKEN}) as http:
        assert http.get("/v1.0/healthz").status_code == 204
        assert http.get("/v1.0/metadata?secret=hunter2").status_code == 200
        assert http.put("/v1.0/metadata/mykey", content=b"body-value").status_code == 204
    assert sidecar.stop() == 0
    output = sidecar.output()
    entries = _entries(output)  # every line is one JSON object
    for entry in entries:
        assert DAPR_FIELDS <= set(entry)
        assert entry["type"] == "log" and entry["app_id"] == "jsonapi"
    calls = [e for e in entries if "method" in e]
    assert [(e["method"], e["code"]) for e in calls] == [
        ("GET /v1.0/metadata", 200), ("PUT /v1.0/metadata/{key}", 204)]
    assert all(isinstance(e["duration"], int) for e in calls)
    assert "healthz" not in output
    for secret in ("hunter2", "mykey", "body-value", TOKEN):
        assert secret not in output


def test_health_checks_are_logged_unless_omitted(spawn, tmp_path: Path):
    config = _config(tmp_path / "config.yaml", {"enabled": True})
    sidecar = spawn.sidecar("healthlog", args=["--config", str(config)])
    with sidecar.client() as http:
        http.get("/v1.0/healthz")
    sidecar.stop()
    assert "GET /v1.0/healthz -> 204" in sidecar.output()


def test_edge_run_passes_log_as_json_to_the_sidecar(launch, tmp_path: Path):
    config = _config(tmp_path / "config.yaml", {"enabled": True})
    run = launch("--app-id", "runjson", "--log-as-json", "--config", str(config))
    sidecar = run.sidecars(1)["runjson"]
    url = f"http://127.0.0.1:{sidecar.http_port}/v1.0/metadata"
    wait_until(lambda: httpx.get(url).status_code == 200, what="the sidecar's metadata")
    run.wait_for(r'"method": "GET /v1.0/metadata"')
    run.interrupt(signal.SIGINT)
    assert run.wait() == 0
    sidecar_lines = [line.split("== EDGE == ", 1)[1] for line in run.output().splitlines()
                     if "== EDGE == " in line]
    assert sidecar_lines
    for line in sidecar_lines:
        assert DAPR_FIELDS <= set(json.loads(line))

