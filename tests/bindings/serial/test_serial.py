"""bindings.serial through real sidecars, on PTY pairs made by socat: frames
become events in order, write and query reach the device, and the binding
survives the device being unplugged and plugged in again."""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import serial

from tests.bindings.conftest import Receiver
from tests.harness import write_component


def start(spawn, tmp_path, bindings: dict[str, dict[str, Any]]):
    resources = tmp_path / "resources"
    for name, metadata in bindings.items():
        write_component(resources, name, "bindings.serial", metadata)
    app = spawn.track(Receiver(tmp_path))
    sidecar = spawn.sidecar("serialapp", resources, app_port=app.port, wait="ready")
    return app, sidecar, sidecar.client()


def bodies(app: Receiver, count: int, path: str) -> list[bytes]:
    return [base64.b64decode(e["body_base64"]) for e in app.wait_for(count, path)]


def invoke(http, name: str, operation: str, data: Any):
    return http.post(f"/v1.0/bindings/{name}", json={"operation": operation, "data": data})


def status(http, name: str) -> dict[str, Any]:
    found = http.get("/v1.0/metadata").json()["components"]
    return next(c for c in found if c["name"] == name)["status"]


def wait_status(http, name: str, connected: bool) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while (found := status(http, name))["connected"] != connected:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def respond(device: serial.Serial, stop: threading.Event) -> None:
    """The device's side of a query: answers each line with `re:<line>`."""
    while not stop.is_set():
        line = device.read_until(b"\r\n")
        if line.endswith(b"\r\n"):
            device.write(b"re:" + line)


def test_frames_write_and_query(spawn, tmp_path, ptys):
    pair = ptys("dev")
    app, _, http = start(spawn, tmp_path, {"dev": {
        "port": str(pair.a), "delimiter": "\\r\\n", "timeout": "500ms"}})
    device = pair.device()
    for byte in b"one\r\n":  # one byte at a time: still one frame
        device.write(bytes([byte]))
        time.sleep(0.005)
    device.write(b"two\r\nthree\r\nfo")  # several frames, and a piece, in one write
    time.sleep(0.05)
    device.write(b"ur\r\n")
    assert bodies(app, 4, "/dev") == [b"one", b"two", b"three", b"four"]

    assert invoke(http, "dev", "write", "hello").status_code == 204
    assert device.read_until(b"\r\n") == b"hello\r\n"

    stop = threading.Event()
    responder = threading.Thread(target=respond, args=(device, stop), daemon=True)
    responder.start()
    questions = [f"q{i}" for i in range(4)]
    with ThreadPoolExecutor(4) as pool:  # concurrent queries are answered one by one
        answers = list(pool.map(lambda q: invoke(http, "dev", "query", q), questions))
    assert [(a.status_code, a.content) for a in answers] == [
        (200, f"re:{q}".encode()) for q in questions]
    stop.set()
    responder.join(5)
    late = invoke(http, "dev", "query", "anyone?")
    assert late.status_code == 500
    assert late.json()["errorCode"] == "ERR_INVOKE_OUTPUT_BINDING"
    assert "no answer from" in late.json()["message"]
    # Answers went to the queries, not to the app.
    assert len(app.received()["events"]) == 4


def test_fixed_length_frames_and_encodings(spawn, tmp_path, ptys):
    fixed, lines = ptys("fix"), ptys("b64")
    app, _, http = start(spawn, tmp_path, {
        "fixed": {"port": str(fixed.a), "frameLength": "4", "encoding": "hex"},
        "lines": {"port": str(lines.a), "encoding": "base64"},
    })
    fixed_dev, lines_dev = fixed.device(), lines.device()
    fixed_dev.write(b"\x00\x01\x02\x03\xff\xfe")
    time.sleep(0.05)
    fixed_dev.write(b"\xfd\xfc\x10")
    lines_dev.write(b"\x00\xff\nhi\n")
    assert bodies(app, 2, "/fixed") == [b"00010203", b"fffefdfc"]
    assert bodies(app, 2, "/lines") == [b"AP8=", b"aGk="]

    assert invoke(http, "fixed", "write", "cafe").status_code == 204
    fixed_dev.write(b"\x20\x30\x40")  # ends the frame begun by \x10
    assert fixed_dev.read(2) == b"\xca\xfe"  # no delimiter with fixed-size frames
    assert invoke(http, "lines", "write", "AP8=").status_code == 204
    assert lines_dev.read_until(b"\n") == b"\x00\xff\n"
    bad = invoke(http, "fixed", "write", "not hex")
    assert bad.status_code == 500 and "not valid hex" in bad.json()["message"]
    assert bodies(app, 3, "/fixed")[2] == b"10203040"


def test_unplug_and_replug(spawn, tmp_path, ptys):
    pair = ptys("usb")
    app, sidecar, http = start(spawn, tmp_path, {"dev": {
        "port": str(pair.a), "reconnectInterval": "100ms"}})
    assert status(http, "dev") == {"connected": True, "port": str(pair.a),
                                   "state": "connected", "reconnects": 0}
    pair.device().write(b"partial")
    time.sleep(0.2)
    pair.unplug()

    down = wait_status(http, "dev", connected=False)
    assert down["lastError"]
    assert http.get("/v1.0/healthz").status_code == 204
    failed = invoke(http, "dev", "write", "x")
    assert failed.status_code == 500
    assert failed.json()["errorCode"] == "ERR_INVOKE_OUTPUT_BINDING"
    assert f"serial port {pair.a} is not connected" in failed.json()["message"]

    pair.plug()
    up = wait_status(http, "dev", connected=True)
    assert up["reconnects"] == 1
    pair.device().write(b"after\n")
    assert bodies(app, 1, "/dev") == [b"after"]  # the partial frame was dropped
    assert "partial frame of 7 bytes dropped" in sidecar.output()
    assert invoke(http, "dev", "write", "back").status_code == 204
    assert sidecar.stop() == 0
    serial.Serial(str(pair.a), exclusive=True).close()  # the port was released


def test_port_missing_at_start_is_opened_when_it_appears(spawn, tmp_path, ptys):
    pair = ptys("late")
    pair.unplug()
    app, sidecar, http = start(spawn, tmp_path, {"dev": {
        "port": str(pair.a), "reconnectInterval": "100ms"}})
    assert status(http, "dev")["connected"] is False
    assert "cannot open" in sidecar.output()
    pair.plug()
    assert wait_status(http, "dev", connected=True)["reconnects"] == 0
    pair.device().write(b"hello\n")
    assert bodies(app, 1, "/dev") == [b"hello"]
