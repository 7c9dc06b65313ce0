"""Smoke test of the VM harness: one boot checks everything the GPIO tests rely on."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.vm import harness

GUEST_SCRIPT = r"""
import os, socket, sys, time
from pathlib import Path

print("argv", sys.argv[1:])
print("env", os.environ["EDGE_VM_PROBE"], os.environ["HOME"], os.environ["PYTHONDONTWRITEBYTECODE"])
print("cwd", os.getcwd())
print("kernel", os.uname().release)

configfs = Path("/sys/kernel/config/gpio-sim")
assert configfs.is_dir(), "gpio-sim not loaded or configfs not mounted"

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
client = socket.create_connection(server.getsockname(), timeout=5)
peer, _ = server.accept()
client.sendall(b"ping")
assert peer.recv(4) == b"ping"
print("loopback ok")

chip = configfs / "chip0"
bank = chip / "bank0"
chip.mkdir()
bank.mkdir()
(bank / "num_lines").write_text("8")
(chip / "live").write_text("1")
name = (bank / "chip_name").read_text().strip()
for _ in range(50):
    if Path("/dev", name).exists():
        break
    time.sleep(0.1)
assert Path("/dev", name).is_char_device(), f"/dev/{name} missing"
print("gpiochip", name)
(chip / "live").write_text("0")
bank.rmdir()
chip.rmdir()

Path(sys.argv[1], "from-guest.txt").write_text("written in the guest\n")
print("to stderr", file=sys.stderr)
sys.exit(7)
"""


@pytest.mark.timeout(900)
def test_guest_runs_command_with_gpio_sim_loopback_and_shared_folder(
    vm_image: harness.Image, tmp_path: Path
) -> None:
    results = tmp_path / "results dir"
    results.mkdir()
    script = tmp_path / "guest.py"
    script.write_text(GUEST_SCRIPT)

    result = harness.run(
        vm_image,
        [sys.executable, str(script), str(results), "it's a \"quoted\" arg"],
        env={"EDGE_VM_PROBE": "spaces and 'quotes' $HOME"},
        cwd=str(results),
        shared=tmp_path,
        timeout=240,
    )

    assert result.returncode == 7, result.output
    output = result.output
    assert f"argv ['{results}', 'it\\'s a \"quoted\" arg']" in output, output
    assert "env spaces and 'quotes' $HOME /tmp 1" in output, output
    assert f"cwd {results}" in output, output
    assert f"kernel {vm_image.kernel_version}" in output, output
    assert "loopback ok" in output, output
    assert "gpiochip gpiochip" in output, output
    assert "to stderr" in output, output
    assert (results / "from-guest.txt").read_text() == "written in the guest\n"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".edge-vm-")]
