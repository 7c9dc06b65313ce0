"""The official Dapr JavaScript SDK (@dapr/dapr, HTTP protocol) against edge.

The SDK is installed from npm into tests/sdk/js/node_modules on first use
(not committed); the scripts that drive it, client.mjs and pubsub.mjs, are ours."""

from __future__ import annotations

import base64
import fcntl
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import free_port, write_component

JS = Path(__file__).parent / "js"


@pytest.fixture(scope="session")
def js_sdk() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("the JS SDK tests need Node.js and npm: apt-get install nodejs npm "
                    "(make test installs them when run as root)")
    with open(JS / ".install.lock", "w") as lock:
        # Parallel test workers share one install.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (JS / "node_modules" / "@dapr" / "dapr").is_dir():
            subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock",
                            "--loglevel=error"], cwd=JS, check=True, timeout=300)
    return JS


def test_js_sdk_state_invoke_secrets_metadata_health(js_sdk, spawn, resources, component):
    component("secrets", "secretstores.local.env", {"prefix": "EDGE_SDK_"})
    app = spawn.app()
    sidecar = spawn.sidecar("sdkapp", resources, app_port=app.port, wait="ready",
                            env={"EDGE_SDK_SECRET": "s3cret"})
    run = subprocess.run(["node", "client.mjs"], cwd=js_sdk, capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin:/usr/local/bin",
                                          "DAPR_HTTP_PORT": str(sidecar.http_port),
                                          "TARGET_APP_ID": "sdkapp"})
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    errors = {k: v for k, v in out.items() if isinstance(v, dict) and "error" in v}
    assert not errors, errors

    assert out["healthy"] is True
    assert out["get"] == {"orderId": 1, "status": "new"}
    assert out["getText"] == "plain text"
    assert out["getMissing"] == ""
    bulk = {item["key"]: item for item in out["bulk"]}
    assert bulk["order-1"]["data"] == {"orderId": 1, "status": "new"}
    assert bulk["note"]["data"] == "plain text"
    assert "data" not in bulk["missing"]
    after = {item["key"]: item for item in out["afterTransaction"]}
    assert "data" not in after["note"]
    assert after["order-2"]["data"] == {"orderId": 2, "status": "paid"}
    assert out["afterDelete"] == ""
    assert [r["key"] for r in out["query"]["results"]] == ["order-1"]
    assert out["secret"] == {"SECRET": "s3cret"}
    assert out["secretBulk"]["SECRET"] == {"SECRET": "s3cret"}
    meta = out["metadata"]
    assert meta["id"] == "sdkapp"
    assert meta["extended"]["deviceRoom"] == "hall-2"
    assert {c["name"] for c in meta["components"]} == {"statestore", "secrets"}

    posted = out["invokePost"]
    assert posted["method"] == "POST"
    assert posted["path"] == "/orders/new"
    assert posted["query"] == "priority=high"
    assert json.loads(base64.b64decode(posted["body"])) == {"orderId": 7}
    assert out["invokeGet"] == ""


def test_js_sdk_pubsub_server_and_client(js_sdk, spawn, tmp_path):
    resources = tmp_path / "pubsub-resources"
    write_component(resources, "bus", "pubsub.in-memory",
                    {"backOffInitialInterval": "20ms", "backOffMaxInterval": "200ms"})
    app_port = free_port()
    sidecar = spawn.sidecar("sdksub", resources, app_port=app_port)
    run = subprocess.run(["node", "pubsub.mjs"], cwd=js_sdk, capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin:/usr/local/bin",
                                          "DAPR_HTTP_PORT": str(sidecar.http_port),
                                          "APP_PORT": str(app_port)})
    assert run.returncode == 0, run.stderr + run.stdout
    out = json.loads(run.stdout.strip().splitlines()[-1])
    got, results = out["got"], out["results"]

    assert results["publishJson"] == {} and results["publishText"] == {}
    assert results["bulk"] == {"failedMessages": []}
    assert results["unknownPubsub"] == "error"
    assert got["orders"] == [{"orderId": 1}]
    assert got["headers"]["content-type"] == "application/cloudevents+json"
    assert got["texts"] == ["hello"]
    assert got["bytes"] == ["raw bytes"]
    assert got["flaky"] == [{"n": 1}, {"n": 1}]
    assert sorted(got["routed"], key=str) == [{"kind": "plain"}, {"kind": "special"}]
    assert got["bulk"] == [{"n": 1}, "two", {"n": 3}]
    assert got["graveyard"] == [{"last": "words"}]
