"""`edge list` and `edge stop`, as `dapr list` and `dapr stop`."""

from __future__ import annotations

import re
import sys

from tests.cli.helpers import CLI_APPS, assert_gone, edge


def test_list_shows_running_sidecars_and_stop_stops_app_and_sidecar(env, launch):
    run = launch("--app-id", "orders", "--", sys.executable, str(CLI_APPS / "sleeper.py"))
    app_pid = int(run.wait_for(r"== APP == PID (\d+)").group(1))
    sidecar = run.sidecars(1)["orders"]

    listed = edge(env, "list")
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["APP", "ID", "HTTP", "PORT", "GRPC", "PORT", "APP", "PORT",
                              "PID", "AGE"]
    assert re.fullmatch(rf"orders +{sidecar.http_port} +{sidecar.grpc_port} +{sidecar.pid} "
                        r"+\d+s", row), row

    stopped = edge(env, "stop", "--app-id", "orders")
    assert stopped.returncode == 0, stopped.stderr
    assert "Stopped app orders" in stopped.stdout
    # `edge stop` sent SIGTERM to `edge run`, which stopped the app with it: a clean stop.
    assert run.wait() == 0
    assert_gone([app_pid, sidecar.pid])
    assert edge(env, "list").stdout == "No edge sidecars found.\n"


def test_stop_unknown_app_fails_clearly(env):
    result = edge(env, "stop", "--app-id", "nobody")
    assert result.returncode == 1
    assert "no app with id 'nobody' is running" in result.stderr


def test_stop_one_app_of_a_run_file_leaves_the_others(env, launch, tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "dapr.yaml").write_text(f"""\
version: 1
apps:
  - appDirPath: ./one
    command: ["python3", "{CLI_APPS / 'sleeper.py'}"]
  - appDirPath: ./two
""")
    run = launch("-f", str(tmp_path))
    one_pid = int(run.wait_for(r"== APP - one == PID (\d+)").group(1))
    sidecars = run.sidecars(2)
    result = edge(env, "stop", "--app-id", "one")
    assert result.returncode == 0, result.stderr
    assert_gone([one_pid, sidecars["one"].pid])
    assert run.proc.poll() is None
    assert [e.split()[0] for e in edge(env, "list").stdout.splitlines()[1:]] == ["two"]
    run.interrupt()
    assert run.wait() == 0
