"""`edge run` with one app, as `dapr run`: environment, exit code, signals."""

from __future__ import annotations

import json
import signal
import sys

import pytest

from tests.cli.helpers import CLI_APPS, assert_gone, edge, running
from tests.harness import free_port


def test_app_gets_its_sidecar_and_run_exits_with_its_code(env, tmp_path):
    app_port = free_port()
    result = edge({**env, "DAPR_API_TOKEN": "s3cret", "APP_API_TOKEN": "app-token"},
                  "run", "--app-id", "orders", "--app-port", str(app_port), "--",
                  sys.executable, str(CLI_APPS / "env_app.py"), "7")
    assert result.returncode == 7, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("== APP == ENV "))
    seen = json.loads(line.removeprefix("== APP == ENV "))
    http_port = int(seen["DAPR_HTTP_PORT"])
    assert seen["APP_ID"] == "orders"
    assert seen["APP_PORT"] == str(app_port)
    assert seen["DAPR_HTTP_ENDPOINT"] == f"http://127.0.0.1:{http_port}"
    assert int(seen["DAPR_GRPC_PORT"]) not in (http_port, app_port)
    assert seen["DAPR_API_TOKEN"] == "s3cret"
    assert seen["APP_API_TOKEN"] == "app-token"
    # The app reached the sidecar through the endpoint it was given, token and all.
    assert seen["sidecar_says_id"] == "orders"
    assert "== EDGE == " in result.stdout
    assert "The app orders exited with code 7" in result.stdout


def test_given_ports_are_used_and_app_port_is_never_invented(env):
    http_port = free_port()
    result = edge(env, "run", "--app-id", "plain", "--dapr-http-port", str(http_port), "--",
                  sys.executable, str(CLI_APPS / "env_app.py"), "0")
    assert result.returncode == 0, result.stdout + result.stderr
    seen = json.loads(result.stdout.split("== APP == ENV ")[1].splitlines()[0])
    assert seen["DAPR_HTTP_PORT"] == str(http_port)
    assert seen["APP_PORT"] is None


def test_app_id_defaults_to_the_folder_name(env, tmp_path):
    folder = tmp_path / "My_Worker"
    folder.mkdir()
    result = edge(env, "run", "--", sys.executable, str(CLI_APPS / "env_app.py"), "0",
                  cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"APP_ID": "my-worker"' in result.stdout
    assert '"sidecar_says_id": "my-worker"' in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_app_its_children_and_sidecar(launch, sig):
    run = launch("--app-id", "sleepy", "--", sys.executable, str(CLI_APPS / "sleeper.py"),
                 "--child")
    app_pid = int(run.wait_for(r"== APP == PID (\d+)").group(1))
    child_pid = int(run.wait_for(r"== APP == CHILD (\d+)").group(1))
    sidecar_pid = run.sidecars(1)["sleepy"].pid
    run.interrupt(sig)
    # The app ended of the signal it was asked to stop with: a clean stop, as with dapr run.
    assert run.wait() == 0
    assert_gone([app_pid, child_pid, sidecar_pid])
    assert f"Received {signal.Signals(sig).name}" in run.output()


def test_app_ignoring_sigterm_is_killed_after_grace(launch):
    run = launch("--app-id", "stubborn", "--", sys.executable, str(CLI_APPS / "sleeper.py"),
                 "--ignore-term")
    app_pid = int(run.wait_for(r"== APP == PID (\d+)").group(1))
    sidecar_pid = run.sidecars(1)["stubborn"].pid
    run.interrupt(signal.SIGTERM)
    assert run.wait(timeout=12) == 137
    assert "did not stop within 5s: killing it" in run.output()
    assert_gone([app_pid, sidecar_pid])


def test_sidecar_alone_runs_until_signal(launch):
    run = launch("--app-id", "lonely")
    run.wait_for("WARNING: no application command found")
    sidecar = run.sidecars(1)["lonely"]
    assert running(sidecar.pid)
    run.interrupt(signal.SIGINT)
    assert run.wait() == 0
    assert_gone([sidecar.pid])


def test_sidecar_that_cannot_start_stops_the_run(env, tmp_path):
    result = edge(env, "run", "--app-id", "broken", "--resources-path",
                  str(tmp_path / "missing"), "--", sys.executable, "-c", "print('never')")
    assert result.returncode == 1
    assert "ERROR: the sidecar for broken exited with code 1 before it was ready" in result.stdout
    assert "never" not in result.stdout


def test_missing_app_command_is_reported(env):
    result = edge(env, "run", "--app-id", "typo", "--", "no-such-command-here")
    assert result.returncode == 1
    assert "cannot start the app typo (no-such-command-here)" in result.stdout


def test_launcher_killed_takes_app_and_sidecar_with_it(launch):
    run = launch("--app-id", "orphan", "--", sys.executable, str(CLI_APPS / "sleeper.py"))
    app_pid = int(run.wait_for(r"== APP == PID (\d+)").group(1))
    sidecar_pid = run.sidecars(1)["orphan"].pid
    run.interrupt(signal.SIGKILL)
    assert_gone([app_pid, sidecar_pid])
