"""spec.secrets.scopes: per store, defaultAccess with allowedSecrets and
deniedSecrets as Dapr's permission priority table says, on single and bulk
reads of a real sidecar."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.helpers import component_doc, write_docs, write_json

SECRETS = {"a": "alpha", "b": "beta", "c": "gamma"}


def test_scopes_follow_dapr_priority_for_single_and_bulk_reads(spawn, tmp_path: Path):
    secrets_file = write_json(tmp_path / "secrets.json", SECRETS)
    stores = ["denyall", "allowonly", "denysome", "both", "allowwithlist", "unscoped"]
    write_docs(tmp_path / "resources" / "stores.yaml", *[
        component_doc(name, "secretstores.local.file", {"secretsFile": str(secrets_file)})
        for name in stores])
    config = write_docs(tmp_path / "config.yaml", {
        "apiVersion": "dapr.io/v1alpha1", "kind": "Configuration", "metadata": {"name": "s"},
        "spec": {"secrets": {"scopes": [
            {"storeName": "denyall", "defaultAccess": "deny"},
            {"storeName": "allowonly", "defaultAccess": "deny", "allowedSecrets": ["a"]},
            {"storeName": "denysome", "defaultAccess": "allow", "deniedSecrets": ["a"]},
            {"storeName": "both", "defaultAccess": "deny", "allowedSecrets": ["a"],
             "deniedSecrets": ["b"]},
            {"storeName": "allowwithlist", "defaultAccess": "allow", "allowedSecrets": ["b"]},
        ]}}})
    sidecar = spawn.sidecar("scoped", tmp_path / "resources", args=["--config", str(config)])
    expected = {"denyall": set(), "allowonly": {"a"}, "denysome": {"b", "c"}, "both": {"a"},
                "allowwithlist": {"b"}, "unscoped": {"a", "b", "c"}}
    with sidecar.client() as http:
        for store, readable in expected.items():
            for key, value in SECRETS.items():
                r = http.get(f"/v1.0/secrets/{store}/{key}")
                if key in readable:
                    assert r.status_code == 200, (store, key, r.text)
                    assert r.json() == {key: value}
                else:
                    assert r.status_code == 403, (store, key, r.text)
                    assert r.json() == {
                        "errorCode": "ERR_PERMISSION_DENIED",
                        "message": f'access denied by policy to get "{key}" from "{store}"'}
            bulk = http.get(f"/v1.0/secrets/{store}/bulk")
            assert bulk.status_code == 200
            assert bulk.json() == {k: {k: SECRETS[k]} for k in readable}, store
        # A missing secret that is denied is denied before the store is asked.
        assert http.get("/v1.0/secrets/denyall/missing").status_code == 403
        assert http.get("/v1.0/secrets/unscoped/missing").status_code == 500
