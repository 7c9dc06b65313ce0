"""Serial fixtures: linked PTY pairs made by socat, which a test can unplug
(kill socat: both links vanish) and replug (start it again on the same links)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial

from tests.harness import Process


class PtyPair:
    """`a` is given to the sidecar; the test plays the device on `b`."""

    def __init__(self, folder: Path, name: str) -> None:
        if shutil.which("socat") is None:
            pytest.fail("the serial tests need socat: apt-get install socat")
        self.a, self.b = folder / f"{name}A", folder / f"{name}B"
        self.log = folder / f"socat-{name}.log"
        self.proc: Process | None = None
        self.plug()

    def plug(self) -> None:
        args = ["socat", "-d", "-d", f"pty,raw,echo=0,link={self.a}",
                f"pty,raw,echo=0,link={self.b}"]
        self.proc = Process(args, self.log)
        deadline = time.monotonic() + 5
        while not (self.a.exists() and self.b.exists()):
            if time.monotonic() > deadline or self.proc.proc.poll() is not None:
                raise RuntimeError(f"socat made no PTY pair:\n{self.proc.output()}")
            time.sleep(0.01)

    def unplug(self) -> None:
        # stop() waits for socat, so no zombie is left and the links are gone.
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def device(self, timeout: float = 2.0) -> serial.Serial:
        return serial.Serial(str(self.b), timeout=timeout)


@pytest.fixture
def ptys(tmp_path: Path) -> Iterator[Callable[[str], PtyPair]]:
    made: list[PtyPair] = []

    def make(name: str) -> PtyPair:
        made.append(PtyPair(tmp_path, name))
        return made[-1]

    yield make
    for pair in made:
        pair.unplug()
