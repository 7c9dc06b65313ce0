"""Actors in the sidecar: activation, turn-based calls, timers, idle
deactivation and rebalancing, and forwarding to the sidecar that hosts an
actor (placement.py decides which).

An actor id lives on one host. Its calls take turns: one at a time, in
arrival order (asyncio.Lock is fair). With reentrancy enabled, a call that
carries the `Dapr-Reentrancy-Id` of the chain holding the turn goes in
without waiting, up to `maxStackDepth` deep."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from multidict import CIMultiDict

from edge.components.state.base import DeleteOp, SetOp, StateStore, Transactional
from edge.errors import DaprError, Err
from edge.runtime import metrics, tracing
from edge.runtime.actors.config import ActorConfig, parse_config
from edge.runtime.actors.placement import Placement
from edge.runtime.actors.reminders import Reminders, callback_body
from edge.runtime.actors.schedule import ScheduleError, due_at, period
from edge.runtime.channel import ChannelError, Reply, unsent
from edge.runtime.invocation import INTERNAL_TOKEN
from edge.runtime.resiliency import (
    ACTOR_RETRIES,
    NO_POLICY,
    BreakerOpen,
    PolicyTimeout,
    http_failure,
)

if TYPE_CHECKING:
    from edge.runtime.sidecar import Sidecar

log = logging.getLogger("edge.runtime.actors")

REENTRANCY = "Dapr-Reentrancy-Id"
INTERNAL_PREFIX = "/v1.0-internal/actors/"
_REBALANCE_EVERY = 1.0
# As Dapr's actor runtime: the app's GET /healthz every 5 s; after 3 failures in a
# row its actors go to the other hosts until it answers 200 again.
HEALTH_EVERY = 5.0
HEALTH_FAILURES = 3
_SHUTDOWN_DRAIN = 5.0


@dataclass
class Actor:
    type: str
    id: str
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    chain: str | None = None  # the reentrancy id holding the turn
    depth: int = 0
    busy: int = 0
    last_used: float = field(default_factory=time.monotonic)
    timers: dict[str, asyncio.Task[None]] = field(default_factory=dict)


class ActorRuntime:
    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar
        self.config = ActorConfig()
        self.placement = Placement(sidecar.registry.path, sidecar.registry.instance)
        self.reminders = Reminders(self)
        self.active: dict[tuple[str, str], Actor] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._waiting: dict[str, int] = {}  # calls waiting for a turn, per actor type

    # -- the state store and the app's types

    @property
    def store(self) -> StateStore | None:
        for store in self.sidecar.components.of(StateStore).values():
            if store.meta.get("actorStateStore"):
                return store
        return None

    def need_store(self) -> StateStore:
        store = self.store
        if store is None:
            raise DaprError(Err.ACTOR_RUNTIME_NOT_FOUND, "the actor runtime is not running: no "
                            "state store has actorStateStore set to \"true\"")
        return store

    def hosts(self, actor_type: str) -> bool:
        return actor_type in self.config.types

    # -- state (the actor state store, keyed as Dapr keys it)

    def state_key(self, actor_type: str, actor_id: str, key: str) -> str:
        return f"{self.sidecar.options.app_id}||{actor_type}||{actor_id}||{key}"

    async def get_state(self, actor_type: str, actor_id: str, key: str) -> bytes | None:
        store = self.need_store()
        try:
            item = await store.get(self.state_key(actor_type, actor_id, key))
        except Exception as exc:  # the store's failure, whatever its kind, is reported
            raise DaprError(Err.ACTOR_STATE_GET, f"error getting actor state: {exc}") from None
        return None if item is None else item.value

    async def transact_state(self, actor_type: str, actor_id: str,
                             ops: list[SetOp | DeleteOp]) -> None:
        """Ops keyed by the actor's own keys; written at once, by the actor's host."""
        store = self.need_store()
        self.require_hosted(actor_type, actor_id)
        if not isinstance(store, Transactional):
            raise DaprError(Err.ACTOR_STATE_TRANSACTION_SAVE, f"state store {store.name} does "
                            "not support transactions")
        for op in ops:
            op.key = self.state_key(actor_type, actor_id, op.key)
        try:
            await store.transact(ops)
        except Exception as exc:
            raise DaprError(Err.ACTOR_STATE_TRANSACTION_SAVE, f"error saving actor transaction "
                            f"state: {exc}") from None

    def require_hosted(self, actor_type: str, actor_id: str) -> None:
        """Timers and state writes belong to the sidecar hosting the actor, as in Dapr."""
        if not self.hosts(actor_type) or not self.placement.owns(actor_type, actor_id):
            raise DaprError(Err.ACTOR_INSTANCE_MISSING, f"actor {actor_type}/{actor_id} is not "
                            "hosted by this sidecar")

    async def start(self) -> None:
        """Once the app listens: ask it for its actor types and start hosting them."""
        self.config = await self._app_config()
        if self.config.entities and self.store is None:
            log.error("the app hosts actors (%s) but no state store has actorStateStore: "
                      "\"true\"; actors are not started", ", ".join(self.config.entities))
            self.config = ActorConfig()
        if self.config.entities:
            await self.placement.register(self.config.entities)
            log.info("hosting actor types %s", ", ".join(self.config.entities))
            self._tasks = [asyncio.create_task(self._scan()),
                           asyncio.create_task(self._rebalance()),
                           asyncio.create_task(self._watch_app())]
            self.reminders.start()

    async def _app_config(self) -> ActorConfig:
        sidecar = self.sidecar
        headers = CIMultiDict(sidecar.app_headers())
        try:
            reply = await sidecar.app.request("GET", f"{sidecar.app_url}/dapr/config", headers,
                                              b"", timeout=10.0)
        except ChannelError as exc:
            log.warning("GET /dapr/config failed: %s; no actors", exc)
            return ActorConfig()
        if reply.status != 200:
            return ActorConfig()
        try:
            return parse_config(json.loads(reply.body))
        except ValueError:
            log.warning("GET /dapr/config answered something that is not JSON; no actors")
            return ActorConfig()

    # -- calls

    async def invoke(self, actor_type: str, actor_id: str, method: str, verb: str,
                     headers: CIMultiDict[str], body: bytes, forwarded: bool = False) -> Reply:
        self.need_store()
        if forwarded and self.hosts(actor_type):
            # The sender thought this sidecar is the host; sending it on could loop.
            return await self.call(actor_type, actor_id, ("method", method), headers, body)
        # The caller's sidecar applies the retries and breaker; a forwarded call
        # has had them already.
        policy = NO_POLICY if forwarded else self.sidecar.resiliency.actor(actor_type, actor_id)
        try:
            return await policy.run(
                lambda: self._place(actor_type, actor_id, method, verb, headers, body),
                lambda reply: http_failure(reply.status))
        except BreakerOpen as exc:
            raise DaprError(Err.ACTOR_INVOKE_METHOD, f"error invoke actor method: {exc}") from None

    async def _place(self, actor_type: str, actor_id: str, method: str, verb: str,
                     headers: CIMultiDict[str], body: bytes) -> Reply:
        """Call the actor where it lives; a host that could not be reached (it
        may have just gone) is looked up afresh, with Dapr's built-in retries."""
        attempts = 0

        async def attempt() -> Reply:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                await self.placement.refresh()
            owner = await self.placement.owner(actor_type, actor_id)
            if owner is None:
                raise DaprError(Err.ACTOR_INVOKE_METHOD, f"error invoke actor method: did not "
                                f"find address for actor {actor_type}/{actor_id}: no running "
                                f"app hosts actor type {actor_type}")
            if owner.instance == self.placement.instance:
                return await self.call(actor_type, actor_id, ("method", method), headers, body)
            return await self._forward(owner.host, owner.internal_port, actor_type, actor_id,
                                       method, verb, headers, body)

        retries = self.sidecar.resiliency.built_in(ACTOR_RETRIES, ("actor", actor_type))
        try:
            return await retries.run(attempt, retryable=unsent)
        except ChannelError as exc:
            raise DaprError(Err.ACTOR_INVOKE_METHOD, f"error invoke actor method: the sidecar "
                            f"hosting {actor_type}/{actor_id} did not answer: {exc}") from None

    async def _forward(self, host: str, port: int, actor_type: str, actor_id: str, method: str,
                       verb: str, headers: CIMultiDict[str], body: bytes) -> Reply:
        sidecar = self.sidecar
        out = CIMultiDict(headers)
        out[INTERNAL_TOKEN] = sidecar.internal_secret
        url = (f"http://{host}:{port}{INTERNAL_PREFIX}{_segment(actor_type)}/"
               f"{_segment(actor_id)}/method/{_segment(method)}")
        span = tracing.start_span(tracing.CALL_ACTOR, tracing.CLIENT, tracing.current.get(),
                                  **tracing.actor_tags(actor_type, actor_id))
        if span is None:
            return await sidecar.peers.request(verb, url, out, body)
        span.context.inject(out)
        status = 500
        try:
            reply = await sidecar.peers.request(verb, url, out, body)
            status = reply.status
            return reply
        finally:
            tracing.finish(span, status)

    async def call(self, actor_type: str, actor_id: str, path: tuple[str, ...],
                   headers: CIMultiDict[str], body: bytes, activity: bool = True) -> Reply:
        """One turn of a local actor: `path` (its segments) under /actors/{type}/{id}/."""
        if not self.hosts(actor_type):
            raise DaprError(Err.ACTOR_INSTANCE_MISSING, f"actor type {actor_type} is not hosted "
                            "by this app")
        actor = self._activate(actor_type, actor_id)
        async with self._turn(actor, headers.get(REENTRANCY)) as chain:
            if activity:
                actor.last_used = time.monotonic()
            out = CIMultiDict(headers)
            out.update(self.sidecar.app_headers())
            if chain:
                out[REENTRANCY] = chain
            out.setdefault("Content-Type", "application/json")
            context = tracing.current.get()
            if context is not None:
                context.inject(out)
            segments = "/".join(_segment(p) for p in ("actors", actor_type, actor_id, *path))
            url = f"{self.sidecar.app_url}/{segments}"
            timeout = self.sidecar.resiliency.actor_timeout(actor_type)
            try:
                return await timeout.run(lambda: self.sidecar.app.request("PUT", url, out, body))
            except (ChannelError, PolicyTimeout) as exc:
                raise DaprError(Err.ACTOR_INVOKE_METHOD, f"error invoke actor method: the app "
                                f"did not answer: {exc}") from None

    def _activate(self, actor_type: str, actor_id: str) -> Actor:
        key = (actor_type, actor_id)
        actor = self.active.get(key)
        if actor is None:
            actor = self.active[key] = Actor(actor_type, actor_id)
        return actor

    @contextlib.asynccontextmanager
    async def _turn(self, actor: Actor, chain: str | None) -> AsyncIterator[str | None]:
        settings = self.config.settings(actor.type)
        actor.busy += 1
        try:
            if settings.reentrancy and chain and chain == actor.chain:
                if actor.depth >= settings.max_stack_depth:
                    raise DaprError(Err.ACTOR_INVOKE_METHOD, "error invoke actor method: "
                                    f"maximum stack depth {settings.max_stack_depth} exceeded")
                actor.depth += 1
                try:
                    yield chain
                finally:
                    actor.depth -= 1
                return
            await self._wait_turn(actor)
            with _releasing(actor.turn):
                actor.chain = (chain or uuid.uuid4().hex) if settings.reentrancy else None
                actor.depth = 1
                try:
                    yield actor.chain
                finally:
                    actor.chain, actor.depth = None, 0
        finally:
            actor.busy -= 1

    async def _wait_turn(self, actor: Actor) -> None:
        """Take the actor's turn, counted as a pending call while it waits."""
        self._count_waiting(actor.type, 1)
        try:
            await actor.turn.acquire()
        finally:
            self._count_waiting(actor.type, -1)

    def _count_waiting(self, actor_type: str, change: int) -> None:
        waiting = self._waiting[actor_type] = self._waiting.get(actor_type, 0) + change
        metrics.actor_gauge("pending", actor_type, waiting)

    # -- timers (in memory: they end with the activation, as in Dapr)

    def _count_timers(self, actor_type: str) -> None:
        if metrics.enabled():
            running = sum(len(a.timers) for a in self.active.values() if a.type == actor_type)
            metrics.actor_gauge("timers", actor_type, running)

    def create_timer(self, actor_type: str, actor_id: str, name: str,
                     spec: dict[str, Any]) -> None:
        self.require_hosted(actor_type, actor_id)
        now = time.time()
        try:
            first = due_at(str(spec.get("dueTime") or ""), now)
            every = period(str(spec.get("period") or ""), now)
        except ScheduleError as exc:
            raise DaprError(Err.ACTOR_TIMER_CREATE, f"error creating actor timer: {exc}") from None
        actor = self._activate(actor_type, actor_id)
        body = callback_body(spec.get("data"), spec, "data" not in spec)
        self.delete_timer(actor_type, actor_id, name)
        actor.timers[name] = asyncio.create_task(
            self._run_timer(actor, name, first, every.seconds, every.repeats, body))
        self._count_timers(actor_type)

    def delete_timer(self, actor_type: str, actor_id: str, name: str) -> None:
        actor = self.active.get((actor_type, actor_id))
        task = actor.timers.pop(name, None) if actor else None
        if task is not None:
            task.cancel()
            self._count_timers(actor_type)

    async def _run_timer(self, actor: Actor, name: str, first: float, every: float | None,
                         repeats: int | None, body: bytes) -> None:
        due, fired = first, 0
        # The task inherited the context of the request that made the timer; its
        # callbacks are not part of that request's trace.
        tracing.current.set(None)
        while True:
            await asyncio.sleep(max(0.0, due - time.time()))
            try:
                # Timers do not keep an actor active: only calls and reminders do.
                reply = await self.call(actor.type, actor.id, ("method", "timer", name),
                                        CIMultiDict(), body, activity=False)
                metrics.actor_fired("timer", actor.type, reply.status // 100 == 2)
                if reply.status // 100 != 2:
                    log.warning("timer %s of %s/%s: the app answered %d", name, actor.type,
                                actor.id, reply.status)
            except DaprError as exc:
                metrics.actor_fired("timer", actor.type, False)
                log.warning("timer %s of %s/%s failed: %s", name, actor.type, actor.id, exc)
            fired += 1
            if every is None or (repeats is not None and fired >= repeats):
                actor.timers.pop(name, None)
                self._count_timers(actor.type)
                return
            due += every

    # -- deactivation

    async def deactivate(self, actor: Actor, wait: float | None = None) -> None:
        """Drop the activation (after the call in progress, up to `wait`) and tell the app."""
        if self.active.get((actor.type, actor.id)) is not actor:
            return
        try:
            await asyncio.wait_for(actor.turn.acquire(), wait)
        except TimeoutError:
            log.warning("actor %s/%s still busy after %gs; deactivating anyway", actor.type,
                        actor.id, wait)
        else:
            actor.turn.release()
        self.active.pop((actor.type, actor.id), None)
        for task in actor.timers.values():
            task.cancel()
        actor.timers.clear()
        self._count_timers(actor.type)
        sidecar = self.sidecar
        url = f"{sidecar.app_url}/actors/{_segment(actor.type)}/{_segment(actor.id)}"
        try:
            reply = await sidecar.app.request("DELETE", url, CIMultiDict(sidecar.app_headers()),
                                              b"", timeout=10.0)
            metrics.actor_deactivated(actor.type, reply.status // 100 == 2)
        except ChannelError as exc:
            metrics.actor_deactivated(actor.type, False)
            log.warning("deactivating %s/%s: the app did not answer: %s", actor.type, actor.id,
                        exc)

    async def _scan(self) -> None:
        while True:
            await asyncio.sleep(self.config.scan_interval)
            now = time.monotonic()
            for actor in list(self.active.values()):
                idle = self.config.settings(actor.type).idle_timeout
                if not actor.busy and now - actor.last_used > idle:
                    await self.deactivate(actor, 0.0)

    async def _rebalance(self) -> None:
        """Actors whose ring position moved to another host are let go there."""
        while True:
            await asyncio.sleep(_REBALANCE_EVERY)
            try:
                await self.placement.refresh()
            except Exception as exc:  # the registry may be busy; next round reads again
                log.warning("reading actor hosts failed: %s", exc)
                continue
            for actor in list(self.active.values()):
                if not self.placement.owns(actor.type, actor.id):
                    settings = self.config.settings(actor.type)
                    log.info("actor %s/%s moves to another host", actor.type, actor.id)
                    metrics.actor_rebalanced(actor.type)
                    await self.deactivate(actor, settings.drain_timeout if settings.drain
                                          else 0.0)

    async def _watch_app(self) -> None:
        failures, hosting = 0, True
        while True:
            await asyncio.sleep(HEALTH_EVERY)
            healthy = await self._app_healthy()
            failures = 0 if healthy else failures + 1
            if hosting and failures >= HEALTH_FAILURES:
                log.warning("the app failed %d health checks (GET /healthz); its actors go to "
                            "other hosts until it is healthy again", failures)
                await self.placement.deregister()
                hosting = False
            elif not hosting and healthy:
                log.info("the app is healthy again; hosting actor types %s",
                         ", ".join(self.config.entities))
                await self.placement.register(self.config.entities)
                hosting = True

    async def _app_healthy(self) -> bool:
        sidecar = self.sidecar
        try:
            reply = await sidecar.app.request("GET", f"{sidecar.app_url}/healthz",
                                              CIMultiDict(sidecar.app_headers()), b"",
                                              timeout=HEALTH_EVERY)
        except ChannelError:
            return False
        return reply.status == 200

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.reminders.stop()
        if self.config.entities:
            with contextlib.suppress(Exception):
                await self.placement.deregister()
        active = list(self.active.values())
        if active:
            await asyncio.wait([asyncio.create_task(self.deactivate(a, _SHUTDOWN_DRAIN))
                                for a in active], timeout=_SHUTDOWN_DRAIN * 2)


@contextlib.contextmanager
def _releasing(lock: asyncio.Lock) -> Iterator[None]:
    """Release a lock taken before the block, however the block ends."""
    try:
        yield
    finally:
        lock.release()


def _segment(text: str) -> str:
    """A name as one URL path segment: an actor id may hold "/" or "%"."""
    return quote(text, safe="")
