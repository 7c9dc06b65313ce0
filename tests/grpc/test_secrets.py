"""Secrets over gRPC with the Python SDK: single and bulk reads, the
Configuration's secret scopes honoured as over HTTP, and Dapr's errors."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from tests.grpc.failures import failure
from tests.runtime.helpers import component_doc, write_docs, write_json

SECRETS = {"a": "alpha", "b": "beta", "c": "gamma"}


@pytest.fixture
def sidecar(spawn, tmp_path: Path):
    secrets_file = write_json(tmp_path / "secrets.json", SECRETS)
    write_docs(tmp_path / "resources" / "stores.yaml", *[
        component_doc(name, "secretstores.local.file", {"secretsFile": str(secrets_file)})
        for name in ("open", "scoped", "denying")])
    config = write_docs(tmp_path / "config.yaml", {
        "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration", "metadata": {"name": "s"},
        "spec": {"secrets": {"scopes": [
            {"storeName": "scoped", "defaultAccess": "allow", "deniedSecrets": ["b"]},
            {"storeName": "denying", "defaultAccess": "deny"},
        ]}}})
    return spawn.sidecar("secretive", tmp_path / "resources", args=["--config", str(config)])


def refused(call, *args) -> tuple[grpc.StatusCode, str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args)
    return failure(caught.value)


def test_single_and_bulk_reads_follow_the_secret_scopes(sidecar, client_for):
    client = client_for(sidecar)
    assert client.get_secret("open", "b").secret == {"b": "beta"}
    assert client.get_secret("scoped", "a", {"ignored": "x"}).secret == {"a": "alpha"}
    readable = {"open": {"a", "b", "c"}, "scoped": {"a", "c"}, "denying": set()}
    with sidecar.client() as http:
        for store, names in readable.items():
            bulk = client.get_bulk_secret(store).secrets
            assert bulk == {name: {name: SECRETS[name]} for name in names}, store
            # The same answer as over HTTP.
            assert http.get(f"/v1.0/secrets/{store}/bulk").json() == bulk
            for name in SECRETS.keys() - names:
                assert refused(client.get_secret, store, name) == (
                    grpc.StatusCode.PERMISSION_DENIED, "ERR_PERMISSION_DENIED",
                    f'access denied by policy to get "{name}" from "{store}"')
    # A denied secret is refused before the store is asked; a permitted missing one is not.
    assert refused(client.get_secret, "denying", "missing")[0] == grpc.StatusCode.PERMISSION_DENIED
    assert refused(client.get_secret, "open", "missing") == (
        grpc.StatusCode.INTERNAL, "ERR_SECRET_GET",
        "failed getting secret with key missing from secret store open: secret missing not found")


def test_unknown_store_and_no_store(sidecar, spawn, client_for):
    client = client_for(sidecar)
    for call, args in ((client.get_secret, ("nope", "a")), (client.get_bulk_secret, ("nope",))):
        assert refused(call, *args) == (grpc.StatusCode.INVALID_ARGUMENT,
                                        "ERR_SECRET_STORE_NOT_FOUND",
                                        "failed finding secret store with key nope")
    bare = client_for(spawn.sidecar("nosecrets"))
    for call, args in ((bare.get_secret, ("open", "a")), (bare.get_bulk_secret, ("open",))):
        assert refused(call, *args) == (grpc.StatusCode.FAILED_PRECONDITION,
                                        "ERR_SECRET_STORES_NOT_CONFIGURED",
                                        "secret store is not configured")
