"""Reminders: persistent, in the actor state store, firing on whichever
sidecar hosts the actor at the time.

The reminders of one actor type are one state item, `actors||<type>`, a list
that each host reads about once a second. A host fires only the reminders of
actors it hosts, and first claims each due time by writing the list back
with its etag (the next due time advanced): when two hosts briefly both
think they host an actor (one has just joined or left), only one write
succeeds, so each due time fires once. A sidecar that was down fires a
missed reminder once when it comes back, then keeps to the period."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from edge.components.state.base import EtagMismatch, SetOp, StateStore
from edge.errors import DaprError, Err
from edge.runtime import metrics
from edge.runtime.actors.schedule import ScheduleError, due_at, expires_at, period

if TYPE_CHECKING:
    from edge.runtime.actors.runtime import ActorRuntime

log = logging.getLogger("edge.runtime.actors.reminders")

_LOOK_EVERY = 1.0  # also how soon a reminder another sidecar wrote is seen
_WRITE_TRIES = 20


def storage_key(actor_type: str) -> str:
    return f"actors||{actor_type}"


def callback_body(data: Any, spec: dict[str, Any], absent: bool) -> bytes:
    """What the app receives when a reminder or timer fires."""
    body = {k: spec.get(k) or "" for k in ("dueTime", "period")}
    if spec.get("callback"):
        body["callback"] = spec["callback"]
    if not absent:
        body = {"data": data, **body}
    return json.dumps(body, separators=(",", ":")).encode()


class Reminders:
    def __init__(self, runtime: ActorRuntime) -> None:
        self.runtime = runtime
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._firing: set[asyncio.Task[None]] = set()

    # -- the stored list

    async def _read(self, store: StateStore, actor_type: str) -> tuple[list[dict[str, Any]],
                                                                         str | None]:
        item = await store.get(storage_key(actor_type))
        if item is None:
            return [], None
        return json.loads(item.value), item.etag

    async def _change(self, actor_type: str, edit: Any) -> Any:
        """Apply `edit(list) -> result` to the stored list, retrying on a concurrent write."""
        store = self.runtime.need_store()
        for _ in range(_WRITE_TRIES):
            reminders, etag = await self._read(store, actor_type)
            result = edit(reminders)
            value = json.dumps(reminders, separators=(",", ":")).encode()
            try:
                await store.set(SetOp(storage_key(actor_type), value, etag=etag,
                                      first_write=etag is None))
            except EtagMismatch:
                continue
            self._wake.set()
            return result
        raise DaprError(Err.ACTOR_REMINDER_CREATE, f"the reminders of {actor_type} are being "
                        "changed by others too often; try again")

    # -- the API

    async def create(self, actor_type: str, actor_id: str, name: str,
                     spec: dict[str, Any]) -> None:
        now = time.time()
        try:
            first = due_at(str(spec.get("dueTime") or ""), now)
            every = period(str(spec.get("period") or ""), now)
            ends = expires_at(str(spec.get("ttl") or ""), first, now)
        except ScheduleError as exc:
            raise DaprError(Err.ACTOR_REMINDER_CREATE, f"error creating actor reminder: "
                            f"{exc}") from None
        entry = {"actorID": actor_id, "name": name, "dueTime": spec.get("dueTime") or "",
                 "period": spec.get("period") or "", "ttl": spec.get("ttl") or "",
                 "next": first, "every": every.seconds, "remaining": every.repeats,
                 "expires": ends}
        if "data" in spec:
            entry["data"] = spec["data"]

        def put(reminders: list[dict[str, Any]]) -> None:
            reminders[:] = [r for r in reminders if (r["actorID"], r["name"]) != (actor_id, name)]
            reminders.append(entry)

        await self._change(actor_type, put)

    async def delete(self, actor_type: str, actor_id: str, name: str) -> None:
        def drop(reminders: list[dict[str, Any]]) -> None:
            reminders[:] = [r for r in reminders if (r["actorID"], r["name"]) != (actor_id, name)]

        await self._change(actor_type, drop)

    async def get(self, actor_type: str, actor_id: str, name: str) -> dict[str, Any] | None:
        return (await self.list(actor_type, actor_id)).get(name)

    async def list(self, actor_type: str, actor_id: str) -> dict[str, dict[str, Any]]:
        """The actor's reminders by name, as the API shows them."""
        reminders, _ = await self._read(self.runtime.need_store(), actor_type)
        return {r["name"]: _shown(r) for r in reminders if r["actorID"] == actor_id}

    async def delete_all(self, actor_type: str, actor_id: str = "") -> None:
        """Every reminder of the type, or of one actor of it."""
        def drop(reminders: list[dict[str, Any]]) -> None:
            reminders[:] = [r for r in reminders if actor_id and r["actorID"] != actor_id]

        await self._change(actor_type, drop)

    # -- firing

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            soonest = time.time() + _LOOK_EVERY
            for actor_type in self.runtime.config.entities:
                try:
                    soonest = min(soonest, await self._fire_due(actor_type))
                except Exception as exc:  # a busy store now is read again next round
                    log.warning("reminders of %s: %s", actor_type, exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.01, soonest - time.time()))

    async def _fire_due(self, actor_type: str) -> float:
        """Claim and fire what is due here; the time the next one is due."""
        placement, now = self.runtime.placement, time.time()
        due: list[dict[str, Any]] = []

        def claim(reminders: list[dict[str, Any]]) -> list[dict[str, Any]]:
            due.clear()
            kept = []
            for r in reminders:
                if r.get("expires") and now >= r["expires"]:
                    continue
                if r["next"] <= now and placement.owns(actor_type, r["actorID"]):
                    due.append(dict(r))
                    if not _advance(r, now):
                        continue
                kept.append(r)
            reminders[:] = kept
            return kept

        reminders, _ = await self._read(self.runtime.need_store(), actor_type)
        mine = [r for r in reminders if placement.owns(actor_type, r["actorID"])]
        if any(r["next"] <= now or (r.get("expires") and now >= r["expires"]) for r in mine):
            # What was written is what is stored now: no need to read it again.
            reminders = await self._change(actor_type, claim)
            for r in due:
                task = asyncio.create_task(self._fire(actor_type, r))
                self._firing.add(task)
                task.add_done_callback(self._firing.discard)
        upcoming = [r["next"] for r in reminders if placement.owns(actor_type, r["actorID"])]
        # The list is read about once a second anyway: the gauges cost nothing more.
        metrics.actor_gauge("reminders", actor_type, len(reminders))
        metrics.actor_gauge("reminders_pending", actor_type, len(upcoming))
        return min(upcoming, default=now + _LOOK_EVERY)

    async def _fire(self, actor_type: str, r: dict[str, Any]) -> None:
        body = callback_body(r.get("data"), r, "data" not in r)
        try:
            reply = await self.runtime.call(actor_type, r["actorID"],
                                            ("method", "remind", r["name"]), CIMultiDict(), body)
            metrics.actor_fired("reminder", actor_type, reply.status // 100 == 2)
            if reply.status // 100 != 2:
                log.warning("reminder %s of %s/%s: the app answered %d", r["name"], actor_type,
                            r["actorID"], reply.status)
        except DaprError as exc:
            metrics.actor_fired("reminder", actor_type, False)
            log.warning("reminder %s of %s/%s failed: %s", r["name"], actor_type, r["actorID"],
                        exc)

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._firing) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _advance(r: dict[str, Any], now: float) -> bool:
    """Move a fired reminder to its next due time; False when it is done."""
    if r.get("remaining") is not None:
        r["remaining"] -= 1
        if r["remaining"] <= 0:
            return False
    every = r.get("every")
    if not every:
        return False
    # Missed due times (the sidecar was down) are not caught up, as in Dapr.
    skipped = max(0, int((now - r["next"]) // every))
    r["next"] += every * (skipped + 1)
    return True


def _shown(stored: dict[str, Any]) -> dict[str, Any]:
    found = {"dueTime": stored["dueTime"], "period": stored["period"]}
    if stored.get("ttl"):
        found["ttl"] = stored["ttl"]
    if "data" in stored:
        found["data"] = stored["data"]
    return found
