"""The shipped example, edge/examples/hello, end to end with `edge init`'s defaults."""

from __future__ import annotations

import shutil
import signal

import httpx

from tests.cli.helpers import EXAMPLE, assert_gone, edge
from tests.harness import free_port


def test_hello_example_runs_end_to_end(env, launch, tmp_path):
    assert edge(env, "init").returncode == 0
    # A copy on a free port, so that it runs beside anything using port 3000.
    example = tmp_path / "hello"
    shutil.copytree(EXAMPLE, example)
    run_file = example / "dapr.yaml"
    text = run_file.read_text()
    assert "appPort: 3000" in text
    run_file.write_text(text.replace("appPort: 3000", f"appPort: {free_port()}"))

    run = launch("-f", str(example), ORDER_COUNT="3")
    for order in (1, 2, 3):
        run.wait_for(rf"^== APP - checkout == Order {order} placed$")
        run.wait_for(rf"^== APP - orders == Successfully persisted state for Order ID: {order}$")
    run.wait_for("Exited app checkout successfully")
    orders = run.sidecars(1)["orders"]
    with httpx.Client(base_url=f"http://127.0.0.1:{orders.http_port}", timeout=5) as http:
        assert http.get("/v1.0/state/statestore/order").json() == {"orderId": 3}
        assert http.get("/v1.0/invoke/orders/method/order").json() == {"orderId": 3}
    assert "Order 4" not in run.output()

    run.interrupt(signal.SIGINT)
    assert run.wait() == 0
    assert_gone([orders.pid])
