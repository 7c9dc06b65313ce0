"""Many clients at once: first-write picks exactly one winner, etags make
read-modify-write safe, and transactions never interleave."""

from __future__ import annotations

import asyncio
import collections
import json

import httpx

from tests.state.helpers import new_key


async def test_parallel_first_writes_have_exactly_one_winner(state_sidecar, store):
    key = new_key()
    async with httpx.AsyncClient(base_url=state_sidecar.url, timeout=10) as client:
        async def attempt(n: int) -> int:
            r = await client.post(f"/v1.0/state/{store}", json=[
                {"key": key, "value": n, "options": {"concurrency": "first-write"}}])
            return r.status_code

        statuses = await asyncio.gather(*(attempt(n) for n in range(20)))
        assert collections.Counter(statuses) == {204: 1, 409: 19}
        winner = statuses.index(204)
        assert (await client.get(f"/v1.0/state/{store}/{key}")).json() == winner


async def test_parallel_transactions_do_not_interleave(state_sidecar, store):
    keys = [new_key(f"tx{i}") for i in range(6)]
    async with httpx.AsyncClient(base_url=state_sidecar.url, timeout=10) as client:
        async def write_all(n: int) -> int:
            ops = [{"operation": "upsert", "request": {"key": k, "value": n}} for k in keys]
            r = await client.post(f"/v1.0/state/{store}/transaction", json={"operations": ops})
            return r.status_code

        assert set(await asyncio.gather(*(write_all(n) for n in range(25)))) == {204}
        r = await client.post(f"/v1.0/state/{store}/bulk", json={"keys": keys})
    values = {entry["data"] for entry in r.json()}
    assert len(values) == 1, f"keys written by different transactions: {values}"


async def test_etag_guarded_increments_lose_nothing(state_sidecar, store):
    key = new_key("counter")
    async with httpx.AsyncClient(base_url=state_sidecar.url, timeout=10) as client:
        await client.post(f"/v1.0/state/{store}", json=[{"key": key, "value": 0}])

        async def increment() -> None:
            while True:
                current = await client.get(f"/v1.0/state/{store}/{key}")
                item = {"key": key, "value": current.json() + 1,
                        "etag": current.headers["etag"]}
                r = await client.post(f"/v1.0/state/{store}", content=json.dumps([item]))
                if r.status_code == 204:
                    return
                assert r.status_code == 409, r.text

        await asyncio.gather(*(increment() for _ in range(15)))
        assert (await client.get(f"/v1.0/state/{store}/{key}")).json() == 15
