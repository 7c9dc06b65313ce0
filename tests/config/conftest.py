"""The CLI fixtures (an edge home of its own, `edge run` launchers), for the
tests that check what `edge run` passes on to its sidecar."""

from tests.cli.conftest import env, launch  # noqa: F401
