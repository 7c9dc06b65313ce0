"""bindings.gpio on a real kernel: boots Debian's kernel in QEMU with the
kernel's gpio-sim (tests/vm/harness.py) and runs in_guest.py there, with this
machine's Python and project shared read-only into the guest.

Each guest test is reported by name; a failure shows the guest's pytest
output, which carries the sidecar and app logs of the failing test."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.vm import harness

ROOT = Path(__file__).resolve().parents[3]
GUEST_TESTS = Path(__file__).with_name("in_guest.py")
# The guest's Python runs several times slower than the host's under emulation.
GUEST_TIME_SCALE = "5"


@pytest.mark.timeout(900)
def test_gpio_binding_in_a_vm_with_gpio_sim(vm_image: harness.Image, tmp_path: Path) -> None:
    report = tmp_path / "guest-report.xml"
    # The guest's temporary files stay on its tmpfs: SQLite cannot lock files on 9p.
    argv = [sys.executable, "-m", "pytest", str(GUEST_TESTS), "-p", "no:cacheprovider",
            "-p", "no:xdist", "-q", "-ra", "--durations=5", "--timeout", "300",
            "--basetemp", "/tmp/guest", "--junitxml", str(report)]
    result = harness.run(vm_image, argv, cwd=str(ROOT), shared=tmp_path, timeout=780,
                         env={"EDGE_TEST_TIME_SCALE": GUEST_TIME_SCALE})
    assert result.returncode == 0, f"GPIO tests failed in the VM:\n{result.output}"
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None, result.output
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    # Every guest test must have run: a skip there would hide a missing feature.
    assert counts["tests"] >= 10 and counts["skipped"] == 0, (counts, result.output)
