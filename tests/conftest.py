"""Shared fixtures: real sidecars, real apps, each test in its own folder
and its own edge home."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import App, Process, Sidecar, write_component
from tests.vm import harness as vm


class Spawner:
    """Starts processes for one test and stops them all when it ends."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Process] = []

    def sidecar(self, app_id: str, resources: Path | None = None, **kwargs: Any) -> Sidecar:
        sidecar = Sidecar(self.workdir, app_id, resources, **kwargs)
        self.started.append(sidecar)
        return sidecar

    def app(self, script: str = "echo_app.py", **kwargs: Any) -> App:
        app = App(self.workdir, script, **kwargs)
        self.started.append(app)
        return app

    def track(self, process: Process) -> Process:
        self.started.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.started):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"----- {p.log.name}\n{p.output()}" for p in self.started)


@pytest.fixture
def spawn(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Spawner]:
    spawner = Spawner(tmp_path)
    yield spawner
    spawner.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(spawner.logs())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


@pytest.fixture
def resources(tmp_path: Path) -> Path:
    """A resources folder with the embedded default: a SQLite state store."""
    folder = tmp_path / "resources"
    write_component(folder, "statestore", "state.sqlite",
                    {"connectionString": str(tmp_path / "state.db")})
    return folder


@pytest.fixture
def component(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str, ctype: str, metadata: dict[str, Any] | None = None, **extra: Any) -> Path:
        return write_component(tmp_path / "resources", name, ctype, metadata, **extra)

    return make


@pytest.fixture(scope="session")
def vm_image() -> vm.Image:
    """A bootable Linux guest with gpio-sim (tests/vm/harness.py); built on first use."""
    if vm.skip_requested():
        pytest.skip("EDGE_SKIP_VM_TESTS is set: the tests in a VM were skipped on request")
    try:
        return vm.prepare()
    except vm.VmUnavailable as exc:
        missing = str(exc)
    pytest.fail(missing, pytrace=False)
