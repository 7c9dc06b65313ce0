"""bindings.modbus through real sidecars, against pymodbus's own server: read
and write over TCP and RTU, polling that reports only changes, and a device
that goes away and comes back."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from tests.bindings.conftest import Receiver
from tests.bindings.modbus.conftest import TcpDevice
from tests.harness import write_component


def start(spawn, tmp_path, metadata: dict[str, Any]):
    resources = tmp_path / "resources"
    write_component(resources, "plc", "bindings.modbus", metadata)
    app = spawn.track(Receiver(tmp_path))
    sidecar = spawn.sidecar("modbusapp", resources, app_port=app.port, wait="ready")
    return app, sidecar, sidecar.client()


def tcp(device: TcpDevice, **extra: str) -> dict[str, str]:
    return {"mode": "tcp", "host": "127.0.0.1", "port": str(device.port), "timeout": "500ms",
            "reconnectInterval": "100ms", "pollInterval": "100ms", **extra}


def invoke(http, operation: str, **data: Any):
    return http.post("/v1.0/bindings/plc", json={"operation": operation, "data": data})


def events(app: Receiver, count: int) -> list[dict[str, Any]]:
    found = app.wait_for(count, "/plc")
    return [json.loads(base64.b64decode(e["body_base64"])) for e in found]


def status(http) -> dict[str, Any]:
    found = http.get("/v1.0/metadata").json()["components"]
    return next(c for c in found if c["name"] == "plc")["status"]


def wait_status(http, connected: bool) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while (found := status(http))["connected"] != connected:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def test_write_then_read_back(spawn, tmp_path, tcp_device):
    _, _, http = start(spawn, tmp_path, tcp(tcp_device, direction="output"))
    assert invoke(http, "write", kind="holding", address=3, values=[7, 65535]).status_code == 204
    coils = invoke(http, "write", kind="coil", address=10, values=[True, False, 1])
    assert coils.status_code == 204
    held = invoke(http, "read", kind="holding", address=2, count=4)
    assert held.status_code == 200
    assert held.json() == {"kind": "holding", "address": 2, "values": [0, 7, 65535, 0]}
    assert invoke(http, "read", kind="coil", address=10, count=3).json()["values"] == [
        True, False, True]
    assert invoke(http, "read", kind="input", address=5, count=2).json()["values"] == [105, 106]
    assert invoke(http, "read", kind="discrete", address=2, count=3).json()["values"] == [
        True, False, True]
    # Arguments may come as request metadata too (strings).
    by_meta = http.post("/v1.0/bindings/plc", json={
        "operation": "read", "metadata": {"kind": "holding", "address": "3", "count": "1"}})
    assert by_meta.json()["values"] == [7]

    for bad, message in ((dict(kind="input", address=0, values=[1]), "kind must be one of"),
                         (dict(kind="holding", address=0, values=[70000]), "0-65535"),
                         (dict(kind="holding", address=500, values=[1]), "refused")):
        failed = invoke(http, "write", **bad)
        assert failed.status_code == 500
        assert failed.json()["errorCode"] == "ERR_INVOKE_OUTPUT_BINDING"
        assert message in failed.json()["message"]


def test_polling_reports_initial_values_then_changes(spawn, tmp_path, tcp_device):
    tcp_device.set_holding(0, [1, 2, 3, 4])
    polled = "holding:0-3, input:5,discrete:2-4"
    app, _, _ = start(spawn, tmp_path, tcp(tcp_device, registers=polled))
    first = events(app, 3)
    assert sorted(first, key=lambda e: e["kind"]) == [
        {"kind": "discrete", "address": 2, "values": [True, False, True]},
        {"kind": "holding", "address": 0, "values": [1, 2, 3, 4]},
        {"kind": "input", "address": 5, "values": [105]},
    ]
    time.sleep(0.5)  # several polls: nothing changed, nothing sent
    assert len(app.received()["events"]) == 3

    tcp_device.set_holding(2, [42])
    changed = app.wait_for(4, "/plc")[3]
    assert json.loads(base64.b64decode(changed["body_base64"])) == {
        "kind": "holding", "address": 0, "values": [1, 2, 42, 4]}
    assert changed["headers"]["kind"] == "holding" and changed["headers"]["address"] == "0"
    time.sleep(0.3)
    assert len(app.received()["events"]) == 4


def test_device_down_and_back(spawn, tmp_path, tcp_device):
    app, _, http = start(spawn, tmp_path, tcp(tcp_device, registers="holding:0"))
    assert status(http) == {"connected": True, "target": f"127.0.0.1:{tcp_device.port}",
                            "state": "connected", "reconnects": 0}
    events(app, 1)
    tcp_device.stop()

    down = wait_status(http, connected=False)
    assert down["lastError"]
    assert http.get("/v1.0/healthz").status_code == 204
    failed = invoke(http, "read", kind="holding", address=0)
    assert failed.status_code == 500
    assert failed.json()["errorCode"] == "ERR_INVOKE_OUTPUT_BINDING"
    assert "is not connected" in failed.json()["message"]

    tcp_device.start()
    assert wait_status(http, connected=True)["reconnects"] == 1
    assert invoke(http, "write", kind="holding", address=0, values=[9]).status_code == 204
    assert events(app, 2)[1] == {"kind": "holding", "address": 0, "values": [9]}


def test_rtu_round_trip(spawn, tmp_path, rtu_device):
    pair, _ = rtu_device
    _, _, http = start(spawn, tmp_path, {
        "mode": "rtu", "port": str(pair.a), "baudRate": "9600", "parity": "none",
        "stopBits": "1", "dataBits": "8", "timeout": "1s", "direction": "output"})
    wait_status(http, connected=True)
    assert invoke(http, "write", kind="holding", address=1, values=[1234, 5]).status_code == 204
    assert invoke(http, "read", kind="holding", address=1, count=2).json()["values"] == [1234, 5]
    assert invoke(http, "write", kind="coil", address=0, values=[True]).status_code == 204
    assert invoke(http, "read", kind="coil", address=0, count=1).json()["values"] == [True]
