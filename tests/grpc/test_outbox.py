"""The transactional outbox: a state store with outboxPublishPubsub publishes
each committed upsert of a transaction, a projection in place of its key's
saved value (as the Python SDK's state_store example expects)."""

from __future__ import annotations

from dapr.clients.grpc._request import TransactionalStateOperation

from tests.harness import write_component


def _sidecar(spawn, tmp_path, **outbox: str):
    folder = tmp_path / "resources"
    write_component(folder, "statestore", "state.sqlite",
                    {"connectionString": str(tmp_path / "state.db"), **outbox})
    write_component(folder, "pubsub", "pubsub.in-memory")
    return spawn.sidecar("outbox", folder)


def _next(subscription, raw: bool = False):
    message = subscription.next_message()
    subscription.respond_success(message)
    return message.raw_data() if raw else message.data()


def test_committed_upserts_and_projections_are_published(spawn, tmp_path, client_for):
    sidecar = _sidecar(spawn, tmp_path, outboxPublishPubsub="pubsub",
                       outboxPublishTopic="changes")
    client = client_for(sidecar)
    subscription = client.subscribe("pubsub", "changes")
    try:
        http = sidecar.client()
        saved = http.post("/v1.0/state/statestore/transaction", json={"operations": [
            {"operation": "upsert", "request": {"key": "k1", "value": {"v": 1}}},
            {"operation": "upsert", "request": {"key": "k1", "value": {"v": 2},
                                                "metadata": {"outbox.projection": "true"}}},
            {"operation": "upsert", "request": {"key": "k2", "value": "plain"}},
            {"operation": "delete", "request": {"key": "gone"}}]})
        assert saved.status_code == 204, saved.text
        assert http.get("/v1.0/state/statestore/k1").json() == {"v": 1}
        assert [_next(subscription), _next(subscription)] == [{"v": 2}, "plain"]

        # Over gRPC, exactly as the SDK's example does it.
        client.execute_state_transaction("statestore", operations=[
            TransactionalStateOperation(key="k3", data="val1",
                                        metadata={"outbox.projection": "false"}),
            TransactionalStateOperation(key="k3", data="val2",
                                        metadata={"outbox.projection": "true"})])
        assert client.get_state("statestore", "k3").data == b"val1"
        # A gRPC value is bytes, so it travels as application/octet-stream.
        assert _next(subscription, raw=True) == b"val2"
    finally:
        subscription.close()


def test_outbox_needs_its_pubsub_and_topic(spawn, tmp_path, client_for):
    sidecar = _sidecar(spawn, tmp_path, outboxPublishPubsub="nowhere",
                       outboxPublishTopic="changes")
    refused = sidecar.client().post("/v1.0/state/statestore/transaction", json={
        "operations": [{"operation": "upsert", "request": {"key": "k", "value": 1}}]})
    assert refused.status_code == 500
    assert "outbox pub/sub nowhere" in refused.json()["message"]
    # Nothing was saved: a change is never left unannounced.
    assert sidecar.client().get("/v1.0/state/statestore/k").status_code == 204
