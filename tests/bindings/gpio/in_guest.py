"""bindings.gpio against the kernel's gpio-sim, run inside the emulated
machine that test_gpio.py boots (the host's kernel has no GPIO support).

The tests make simulated chips through configfs. Most share one "board": a
chip labelled and named like a Raspberry Pi 5's header, one real sidecar with
several GPIO components (among them hardware.md's) and one real app, because
starting Python processes under emulation takes many seconds. They drive
lines the way a button does (flipping the line's pull) and read back what the
sidecar drove."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gpiod
import httpx
import pytest

from edge.components.base import ComponentContext
from edge.errors import ConfigError
from edge.runtime.components import Components
from edge.runtime.loader import load_resources
from tests.bindings.conftest import Receiver
from tests.conftest import Spawner
from tests.harness import TIME_SCALE, Sidecar, write_component
from tests.test_hardware_doc import yaml_blocks

CONFIGFS = Path("/sys/kernel/config/gpio-sim")
_chips = itertools.count()


@dataclass
class SimChip:
    """A live gpio-sim chip: its device, and its lines as sysfs exposes them."""

    config: Path
    device: str  # /dev/gpiochipN
    label: str
    sysfs: Path

    def pull(self, offset: int, up: bool) -> None:
        """What a button does to the pin: drive it high or low through its pull."""
        (self.sysfs / f"sim_gpio{offset}" / "pull").write_text("pull-up" if up else "pull-down")

    def level(self, offset: int) -> int:
        """The pin's level as the outside world sees it (what a relay would get)."""
        return int((self.sysfs / f"sim_gpio{offset}" / "value").read_text())

    def used_by(self, offset: int) -> str | None:
        with gpiod.Chip(self.device) as chip:
            info = chip.get_line_info(offset)
            return info.consumer if info.used else None


def make_chip(label: str, num_lines: int, names: dict[int, str]) -> SimChip:
    if not CONFIGFS.is_dir():
        pytest.fail("gpio-sim is not loaded: these tests run inside the VM that "
                    "tests/bindings/gpio/test_gpio.py boots")
    chip = CONFIGFS / f"edge{os.getpid()}x{next(_chips)}"
    bank = chip / "bank0"
    bank.mkdir(parents=True)
    (bank / "num_lines").write_text(str(num_lines))
    (bank / "label").write_text(label)
    for offset, name in names.items():
        (bank / f"line{offset}").mkdir()
        (bank / f"line{offset}" / "name").write_text(name)
    (chip / "live").write_text("1")
    name = (bank / "chip_name").read_text().strip()
    sysfs = Path("/sys/devices/platform") / (chip / "dev_name").read_text().strip() / name
    return SimChip(chip, f"/dev/{name}", label, sysfs)


def remove_chip(sim: SimChip) -> None:
    (sim.config / "live").write_text("0")
    bank = sim.config / "bank0"
    for line in bank.glob("line*"):
        line.rmdir()
    bank.rmdir()
    sim.config.rmdir()


@dataclass
class Board:
    chip: SimChip
    app: Receiver
    sidecar: Sidecar
    http: httpx.Client


BOARD_COMPONENTS: dict[str, dict[str, str]] = {
    "buttons": {"lines": "GPIO3,4"},
    "relays": {"lines": "GPIO5,6", "direction": "output"},
    "lamp": {"lines": "7", "direction": "output", "activeLow": "true", "initialValue": "1"},
    "sensor": {"lines": "GPIO8", "direction": "input,output"},
}


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    workdir = tmp_path_factory.mktemp("board")
    chip = make_chip("pinctrl-rp1", 28, {n: f"GPIO{n}" for n in range(28)})
    resources = workdir / "resources"
    resources.mkdir()
    blocks = [b for b in yaml_blocks() if "bindings.gpio" in b]
    assert len(blocks) == 2, "hardware.md shows a button and a relay"
    for index, block in enumerate(blocks):
        (resources / f"hardware-md-{index}.yaml").write_text(block)
    for name, metadata in BOARD_COMPONENTS.items():
        # By label, by device path and by device name: all three must find the chip.
        where = {"buttons": chip.label, "lamp": os.path.basename(chip.device)}
        write_component(resources, name, "bindings.gpio",
                        {"chip": where.get(name, chip.device), **metadata})
    spawner = Spawner(workdir)
    try:
        app = spawner.track(Receiver(workdir))
        sidecar = spawner.sidecar("gateway", resources, app_port=app.port, wait="ready")
        with sidecar.client() as http:
            yield Board(chip, app, sidecar, http)
    finally:
        print(spawner.logs())
        spawner.close()
        remove_chip(chip)


@pytest.fixture
def sim() -> Iterator[SimChip]:
    chip = make_chip(f"sim-{next(_chips)}", 8, {3: "button", 5: "relay"})
    yield chip
    remove_chip(chip)


def events(app: Receiver, count: int, path: str) -> list[dict[str, Any]]:
    found = app.wait_for(count, path)
    return [{**json.loads(base64.b64decode(e["body_base64"])), "headers": e["headers"]}
            for e in found]


def invoke(http: httpx.Client, name: str, operation: str, data: Any = None, **metadata: str):
    return http.post(f"/v1.0/bindings/{name}",
                     json={"operation": operation, "data": data, "metadata": metadata})


def test_button_edges_become_events_with_kernel_timestamps(board):
    before = time.time_ns()
    # One flip at a time, as a hand would: the simulator raises its interrupts from
    # deferred work, so flips faster than that could be seen as one.
    for count, (offset, up) in enumerate([(3, True), (3, False), (4, True)], start=1):
        board.chip.pull(offset, up=up)
        got = events(board.app, count, "/buttons")
    assert [(e["line"], e["offset"], e["edge"], e["value"]) for e in got] == [
        ("GPIO3", 3, "rising", 1), ("GPIO3", 3, "falling", 0), ("4", 4, "rising", 1)]
    stamps = [e["timestamp"] for e in got]
    # Realtime kernel timestamps, in order, taken when the pin moved.
    assert before <= stamps[0] <= stamps[1] <= stamps[2] <= time.time_ns()
    assert got[0]["headers"]["line"] == "GPIO3" and got[0]["headers"]["edge"] == "rising"
    assert got[0]["headers"]["timestamp"] == str(stamps[0])
    answer = invoke(board.http, "buttons", "get")
    assert answer.status_code == 200 and answer.json() == {"GPIO3": 0, "4": 1}
    status = next(c for c in board.http.get("/v1.0/metadata").json()["components"]
                  if c["name"] == "buttons")
    assert status["status"]["chip"] == board.chip.device and status["status"]["events"] == 3


def test_hardware_md_button_reports_presses_only(board):
    # hardware.md's doorbell: GPIO17 held high by the pull-up the binding asks
    # for; a press grounds it, which activeLow makes a rising edge and value 1.
    assert invoke(board.http, "doorbell", "get").json() == {"GPIO17": 0}
    board.chip.pull(17, up=False)  # pressed
    events(board.app, 1, "/doorbell")
    board.chip.pull(17, up=True)   # released: a falling edge, not asked for
    time.sleep(0.2 * TIME_SCALE)   # well over the 10ms debounce
    board.chip.pull(17, up=False)  # pressed again
    got = events(board.app, 2, "/doorbell")
    assert [(e["line"], e["edge"], e["value"]) for e in got] == [
        ("GPIO17", "rising", 1), ("GPIO17", "rising", 1)]
    assert invoke(board.http, "doorbell", "get").json() == {"GPIO17": 1}
    time.sleep(0.5 * TIME_SCALE)
    assert len([e for e in board.app.received()["events"] if e["path"] == "/doorbell"]) == 2


def test_outputs_set_get_and_pulse(board):
    chip, http = board.chip, board.http
    assert (chip.level(5), chip.level(6), chip.level(7)) == (0, 0, 0)  # lamp on: pin low
    assert invoke(http, "relay", "set", 1).status_code == 204  # hardware.md's relay
    assert chip.level(27) == 1
    assert invoke(http, "relays", "set", 1, line="GPIO5").status_code == 204
    assert chip.level(5) == 1
    assert invoke(http, "relays", "set", None, line="6", value="true").status_code == 204
    assert invoke(http, "relays", "get").json() == {"GPIO5": 1, "6": 1}
    assert invoke(http, "relays", "set", "0", line="GPIO5").status_code == 204
    assert invoke(http, "relays", "get", line="GPIO5").json() == {"GPIO5": 0}
    assert chip.level(5) == 0
    assert invoke(http, "lamp", "set", 0).status_code == 204  # one line: no need to name it
    assert chip.level(7) == 1

    seen: list[int] = []
    pulsing = threading.Thread(target=lambda: seen.append(
        invoke(http, "relays", "pulse", line="GPIO5", duration="1s").status_code))
    pulsing.start()
    deadline = time.monotonic() + 5 * TIME_SCALE
    while chip.level(5) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    high_during_pulse = chip.level(5)
    pulsing.join()
    assert high_during_pulse == 1 and seen == [204]
    assert chip.level(5) == 0


def test_bad_requests_get_dapr_errors(board):
    http = board.http
    cases = [
        (invoke(http, "sensor", "set", 1), "supported operations:get"),
        (invoke(http, "relays", "set", 1), "metadata.line"),
        (invoke(http, "relays", "set", 1, line="nine"), "'nine' is not one of"),
        (invoke(http, "relays", "set", "maybe", line="GPIO5"), "not a line value"),
        (invoke(http, "relays", "pulse", line="GPIO5", duration="soon"), "metadata.duration"),
        (invoke(http, "relays", "pulse", line="GPIO5", duration="2h"), "at most"),
    ]
    for answer, message in cases:
        assert answer.status_code == 500, answer.text
        assert answer.json()["errorCode"] == "ERR_INVOKE_OUTPUT_BINDING"
        assert message in answer.json()["message"], answer.json()
    assert board.chip.level(5) == 0


def test_lines_are_held_while_running_and_released_on_shutdown(board):
    # Last of the board's tests: it stops the sidecar.
    held = {offset: board.chip.used_by(offset) for offset in (3, 5, 7, 17, 27)}
    assert held == {3: "edge:buttons", 5: "edge:relays", 7: "edge:lamp", 17: "edge:doorbell",
                    27: "edge:relay"}
    assert board.sidecar.stop() == 0
    assert {offset: board.chip.used_by(offset) for offset in held} == dict.fromkeys(held)


def load(tmp_path: Path, metadata: dict[str, str]) -> tuple[Path, pytest.ExceptionInfo]:
    """Loads a component in this process, as the sidecar does (a sidecar start
    per case would cost seconds under emulation); the error it must raise."""
    path = write_component(tmp_path / "resources", "pins", "bindings.gpio", metadata)
    components = Components(ComponentContext("gpioapp", "", tmp_path))
    with pytest.raises(ConfigError) as failed:
        asyncio.run(components.load(load_resources([str(path.parent)]).components))
    return path, failed


@pytest.mark.parametrize(("metadata", "field", "message"), [
    ({"chip": "no-such-chip", "lines": "3"}, "chip", "no GPIO chip 'no-such-chip'; chips here:"),
    ({"lines": "doorbell"}, "lines", "has no line named 'doorbell'"),
    ({"lines": "8"}, "lines", "has lines 0 to 7, not 8"),
    ({"lines": "3,3"}, "lines", "listed twice"),
    ({"lines": "3", "edge": "sideways"}, "edge", "'sideways' is not one of both"),
    ({"lines": "5", "direction": "output", "initialValue": "2"}, "initialValue",
     "must be 0 or 1"),
    ({"lines": "3", "debounce": "soon"}, "debounce", "not a duration"),
])
def test_configuration_errors_name_file_component_and_field(tmp_path, sim, metadata, field,
                                                            message):
    path, failed = load(tmp_path, {"chip": sim.device, **metadata})
    assert message in str(failed.value)
    assert (failed.value.file, failed.value.component, failed.value.field) == (
        str(path), "pins", field)


def test_a_line_in_use_is_refused_naming_its_user(tmp_path, sim):
    with gpiod.request_lines(sim.device, {3: gpiod.LineSettings()}, consumer="other-program"):
        _, failed = load(tmp_path, {"chip": sim.device, "lines": "button"})
    assert "line button" in str(failed.value) and "in use by 'other-program'" in str(failed.value)
    assert failed.value.field == "lines"
