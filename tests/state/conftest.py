"""State fixtures. Most tests share one sidecar per xdist worker, with one
store of each type; every test uses its own unique keys, so tests stay
independent while the suite stays fast. Tests about files, prefixes and
restarts start their own sidecars with `spawn`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Spawner
from tests.harness import Sidecar, write_component

STORES = ("sqlite", "memory")


@pytest.fixture(scope="session")
def state_sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    workdir = tmp_path_factory.mktemp("state")
    folder = workdir / "resources"
    write_component(folder, "sqlite", "state.sqlite", {"connectionString": str(workdir / "s.db")})
    write_component(folder, "memory", "state.in-memory")
    spawner = Spawner(workdir)
    sidecar = spawner.sidecar("stateapp", folder)
    yield sidecar
    spawner.close()


@pytest.fixture
def http(state_sidecar: Sidecar) -> Iterator[httpx.Client]:
    with state_sidecar.client() as client:
        yield client


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    """The name of a store on the shared sidecar; tests using it run once per type."""
    return str(request.param)


@pytest.fixture
def sqlite_resources(tmp_path: Path) -> Path:
    """A resources folder whose only store is state.sqlite on ./state.db."""
    folder = tmp_path / "resources"
    write_component(folder, "statestore", "state.sqlite",
                    {"connectionString": str(tmp_path / "state.db")})
    return folder
