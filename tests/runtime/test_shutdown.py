"""Stopping a sidecar: the shutdown API, forced shutdown and SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.harness import Process, Sidecar, free_port, wait_http

SLOW_APP = Path(__file__).parent / "apps" / "slow_app.py"

GRACE = 2.0


def _registered(home: Path, app_id: str) -> int:
    """Rows for app_id in the name-resolution registry, alive or not."""
    conn = sqlite3.connect(home / "nameresolution.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM sidecars WHERE app_id = ?",
                                (app_id,)).fetchone()[0])
    except sqlite3.OperationalError:  # the sidecar has not created the table yet
        return 0
    finally:
        conn.close()


def _wait_registered(home: Path, app_id: str) -> None:
    # The sidecar registers just after its API answers, so give it a moment.
    deadline = time.monotonic() + 5
    while _registered(home, app_id) != 1:
        assert time.monotonic() < deadline, f"{app_id} never registered"
        time.sleep(0.05)


def _exit_code(sidecar: Sidecar, within: float) -> int:
    start = time.monotonic()
    code = sidecar.proc.wait(within)
    assert time.monotonic() - start <= within
    return code


def test_shutdown_api_answers_then_exits_cleanly(spawn, tmp_path: Path):
    sidecar = spawn.sidecar("stopper", args=["--dapr-graceful-shutdown-seconds", str(GRACE)])
    _wait_registered(tmp_path / "home", "stopper")
    r = httpx.post(sidecar.url + "/v1.0/shutdown")
    assert r.status_code == 204
    assert r.content == b""
    assert _exit_code(sidecar, GRACE + 2) == 0
    assert _registered(tmp_path / "home", "stopper") == 0


def test_forced_shutdown_exits_at_once(spawn):
    sidecar = spawn.sidecar("forced", args=["--dapr-graceful-shutdown-seconds", "30"])
    r = httpx.post(sidecar.url + "/v1.0/shutdown", headers={"Dapr-Force-Shutdown": "TRUE"})
    assert r.status_code == 204
    assert _exit_code(sidecar, 2) == 1  # as daprd: a forced exit is not a clean one
    assert "Force shutdown requested" in sidecar.output()


def test_force_header_other_than_true_is_graceful(spawn):
    sidecar = spawn.sidecar("notforced")
    r = httpx.post(sidecar.url + "/v1.0/shutdown", headers={"Dapr-Force-Shutdown": "1"})
    assert r.status_code == 204
    assert _exit_code(sidecar, 7) == 0


def test_sigterm_exits_cleanly_and_deregisters(spawn, tmp_path: Path):
    sidecar = spawn.sidecar("termed", args=["--dapr-graceful-shutdown-seconds", str(GRACE)])
    _wait_registered(tmp_path / "home", "termed")
    sidecar.proc.send_signal(signal.SIGTERM)
    assert _exit_code(sidecar, GRACE + 2) == 0
    assert _registered(tmp_path / "home", "termed") == 0
    assert "stopped" in sidecar.output()


def test_shutdown_is_post_only(spawn):
    sidecar = spawn.sidecar("getter")
    with sidecar.client() as http:
        r = http.get("/v1.0/shutdown")
        assert r.status_code == 404
        assert "errorCode" in r.json()
        time.sleep(0.3)
        assert http.get("/v1.0/healthz").status_code == 204


def test_calls_in_flight_finish_during_graceful_shutdown(spawn, tmp_path: Path):
    port = free_port()
    app = spawn.track(Process([sys.executable, str(SLOW_APP), str(port)], tmp_path / "slow.log"))
    wait_http(f"http://127.0.0.1:{port}/healthz", proc=app.proc)
    sidecar = spawn.sidecar("slowpoke", app_port=port, wait="ready",
                            args=["--dapr-graceful-shutdown-seconds", "5"])
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(httpx.get, sidecar.url + "/v1.0/invoke/slowpoke/method/slow/1",
                           timeout=10)
        time.sleep(0.3)
        assert httpx.post(sidecar.url + "/v1.0/shutdown").status_code == 204
        reply = call.result()
    assert reply.status_code == 200
    assert reply.text == "done"
    assert _exit_code(sidecar, 6) == 0
