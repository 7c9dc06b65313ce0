"""Apps for the gRPC tests, and how the tests start them."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from tests.harness import Process, accepts, free_port, wait_until

GRPC_APP = Path(__file__).parent / "grpc_app.py"


class GrpcApp(Process):
    """tests/grpc/apps/grpc_app.py (the SDK's gRPC App) on a free port."""

    def __init__(self, workdir: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__([sys.executable, str(GRPC_APP), str(self.port)],
                         workdir / f"grpc-app-{self.port}.log", env, cwd=workdir)
        try:
            wait_until(lambda: self.proc.poll() is not None or accepts(self.port),
                       timeout=20, what="the gRPC app to listen")
        except AssertionError:
            self.stop()
            raise
        if self.proc.poll() is not None:
            raise RuntimeError(f"the gRPC app exited:\n{self.output()}")
