"""Fixtures for the CLI tests: an environment with its own edge home, and
`edge run` launchers that are stopped (and logged on failure) with the test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.helpers import EdgeRun, edge_env, require_python3_with_aiohttp


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = edge_env(tmp_path)
    require_python3_with_aiohttp(environment)
    return environment


@pytest.fixture
def launch(spawn, tmp_path: Path, env: dict[str, str]) -> Callable[..., EdgeRun]:
    def start(*args: str, cwd: Path | None = None, **extra_env: str) -> EdgeRun:
        run = EdgeRun(tmp_path, {**env, **extra_env}, *args, cwd=cwd)
        spawn.track(run)
        return run

    return start
