"""`edge run -f` with Dapr multi-app run files."""

from __future__ import annotations

import json
import re
import shutil
import signal
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cli.helpers import CLI_APPS, assert_gone, edge
from tests.harness import APPS, free_port, wait_http, write_component


def write_run_file(folder: Path, doc: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dapr.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def two_apps(tmp_path: Path) -> tuple[Path, int]:
    """server (the echo app) and caller (invokes server once), sharing resources."""
    project = tmp_path / "project"
    for name in ("server", "caller"):
        (project / name).mkdir(parents=True)
    write_component(project / "resources", "statestore", "state.sqlite",
                    {"connectionString": str(tmp_path / "state.db")})
    port = free_port()
    write_run_file(project, {
        "version": 1,
        "common": {"resourcesPath": "./resources", "env": {"RUN_FILE_VAR": "shared"}},
        "apps": [
            {"appID": "server", "appDirPath": "./server", "appPort": port,
             "command": ["python3", str(APPS / "echo_app.py"), str(port)]},
            {"appID": "caller", "appDirPath": "./caller",
             "command": ["python3", str(CLI_APPS / "caller.py"), "server", "hello"]},
        ],
    })
    return project, port


def test_two_apps_prefixed_invoking_each_other_and_one_ctrl_c_stops_all(launch, tmp_path):
    project, _ = two_apps(tmp_path)
    run = launch("-f", str(project))
    reply = run.wait_for(r"^== APP - caller == REPLY (\d+) (.*)$")
    assert reply.group(1) == "200"
    echoed = json.loads(reply.group(2))
    assert echoed["path"] == "/hello"
    assert echoed["headers"]["dapr-caller-app-id"] == "caller"
    caller_pid = int(run.wait_for(r"^== APP - caller == PID (\d+)").group(1))
    assert re.search(r"^== EDGE - server == .*app id server", run.output(), re.MULTILINE)
    sidecars = run.sidecars(2)
    assert {e.run_pid for e in sidecars.values()} == {run.pid}
    with httpx.Client(base_url=f"http://127.0.0.1:{sidecars['server'].http_port}") as http:
        # common.resourcesPath, relative to the run file, reached both sidecars.
        assert http.post("/v1.0/state/statestore", json=[{"key": "k", "value": 1}]) \
            .status_code == 204
    run.interrupt(signal.SIGINT)
    assert run.wait() == 0
    assert_gone([caller_pid, *(e.pid for e in sidecars.values())])


def test_an_app_that_exits_leaves_the_others_running(launch, tmp_path):
    project, port = two_apps(tmp_path)
    doc = yaml.safe_load((project / "dapr.yaml").read_text())
    doc["apps"][1]["command"] = ["python3", str(CLI_APPS / "env_app.py"), "0"]
    write_run_file(project, doc)
    run = launch("-f", str(project / "dapr.yaml"))
    env_line = run.wait_for(r"^== APP - caller == ENV (.*)$").group(1)
    assert json.loads(env_line)["RUN_FILE_VAR"] == "shared"
    run.wait_for("Exited app caller successfully")
    run.wait_for(r"== EDGE - caller == .*stopped")
    assert run.proc.poll() is None
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=5, expect=(200,))
    server = run.sidecars(1)["server"]
    run.interrupt(signal.SIGTERM)
    assert run.wait() == 0
    assert_gone([server.pid])


def test_hello_kubernetes_shaped_run_file_runs(launch, tmp_path):
    # quickstarts/tutorials/hello-kubernetes: common.resourcesPath holding only a
    # resiliency policy without apiVersion/kind, Kubernetes-only keys, and
    # `command` lists added for a local run.
    project = tmp_path / "hello-kubernetes"
    for name, script in (("node", "hk_node.py"), ("python", "hk_python.py")):
        (project / name).mkdir(parents=True)
        shutil.copy(CLI_APPS / script, project / name / "app.py")
    (project / "resources").mkdir()
    (project / "resources" / "resiliency.yaml").write_text(
        "spec:\n  policies:\n    retries:\n      DefaultRetryPolicy:\n"
        "        policy: constant\n        duration: 1s\n        maxRetries: -1\n")
    port = free_port()
    (project / "dapr.yaml").write_text(f"""\
version: 1
common:
  resourcesPath: ./resources
apps:
  - appDirPath: ./node
    appID: nodeapp
    appPort: {port}
    containerImage: ghcr.io/dapr/samples/hello-k8s-node:latest
    createService: true
    command: ["python3", "app.py"]
  - appDirPath: ./python
    appID: pythonapp
    containerImage: ghcr.io/dapr/samples/hello-k8s-python:latest
    command: ["python3", "app.py"]""")
    run = launch("-f", str(project))
    run.wait_for(rf"^== APP - nodeapp == Node App listening on port {port}!")
    run.wait_for(r"^== APP - nodeapp == Got a new order! Order ID: \d+")
    run.wait_for(r"^== APP - pythonapp == HTTP 200 for order \d+")
    sidecars = run.sidecars(2)
    run.interrupt(signal.SIGINT)
    assert run.wait() == 0
    assert_gone(e.pid for e in sidecars.values())


def test_app_dir_dapr_resources_and_defaults(launch, tmp_path, env):
    # <appDirPath>/.dapr/resources wins over the edge home's components.
    project = tmp_path / "project"
    write_component(project / "svc" / ".dapr" / "resources", "local", "state.in-memory")
    write_run_file(project, {"version": 1, "apps": [{"appDirPath": "./svc"}]})
    run = launch("-f", str(project))
    sidecar = run.sidecars(1)["svc"]  # appID defaults to the folder's name
    metadata = httpx.get(f"http://127.0.0.1:{sidecar.http_port}/v1.0/metadata").json()
    assert [c["name"] for c in metadata["components"]] == ["local"]
    run.interrupt()
    assert run.wait() == 0


@pytest.mark.parametrize(("doc", "field", "message"), [
    ({"apps": [{"appDirPath": "."}]}, "version", "required field not found"),
    ({"version": 1, "apps": []}, "apps", "no apps to run"),
    ({"version": 1, "apps": [{"appID": "x"}]}, "apps[0].appDirPath", "required field not found"),
    ({"version": 1, "apps": [{"appDirPath": ".", "appPrt": 3000}]}, "apps[0].appPrt",
     "unknown field (did you mean appPort?)"),
    ({"version": 1, "common": {"appID": "x"}, "apps": [{"appDirPath": "."}]}, "common.appID",
     "only allowed in apps"),
    ({"version": 1, "apps": [{"appDirPath": ".", "appPort": "http"}]}, "apps[0].appPort",
     "must be a whole number"),
    ({"version": 1, "apps": [{"appDirPath": ".", "command": "python3 app.py"}]},
     "apps[0].command", "must be a list"),
    ({"version": 1, "apps": [{"appDirPath": "./nowhere"}]}, "apps[0].appDirPath",
     "does not exist"),
    ({"version": 1, "apps": [{"appDirPath": ".", "resourcesPath": "res"}]},
     "apps[0].resourcesPath", "does not exist"),
    ({"version": 1, "apps": [{"appDirPath": ".", "appProtocol": "h2c"}]},
     "apps[0].appProtocol", "not supported"),
    ({"version": 1, "apps": [{"appDirPath": ".", "appID": "a"}, {"appDirPath": ".",
                                                                 "appID": "a"}]},
     "apps[1].appID", "used twice"),
])
def test_invalid_run_file_names_file_and_field(env, tmp_path, doc, field, message):
    path = write_run_file(tmp_path / "project", doc)
    result = edge(env, "run", "-f", str(path))
    assert result.returncode == 1
    assert f"{path}: {field}: " in result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_missing_run_file_is_reported(env, tmp_path):
    result = edge(env, "run", "-f", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path / 'dapr.yaml'}: no such run file" in result.stderr


def test_run_file_takes_no_command(env, tmp_path):
    result = edge(env, "run", "-f", str(tmp_path), "--", sys.executable)
    assert result.returncode == 2
    assert "-f takes the apps from the run file" in result.stderr
