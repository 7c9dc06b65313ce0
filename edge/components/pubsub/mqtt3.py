"""pubsub.mqtt3: Dapr's MQTT 3.1.1 pub/sub on paho-mqtt, with store-and-forward.

Publishing: publish() returns once the message is in the component's SQLite
outbox (see outbox.py); a forwarder hands the rows to paho in order and
deletes each one on the broker's PUBACK. A broker outage therefore never fails
a publish (until the outbox is full) and never reorders messages. paho keeps
the messages it was handed across reconnects and sends them again itself, so
the outbox hands each row over once per process: duplicates can only come
from a crash between a PUBACK and the deletion of its row.

Subscribing: one connection per component, client id `{consumerID}-{suffix}`
where the suffix is random once and then kept in the outbox file, so a
restarted sidecar resumes its broker session (cleanSession=false keeps the
QoS 1 messages that arrive while it is away) while replicas of one app never
share an id. With sharedSubscriptions=true, topics are subscribed as
`$share/{consumerID}/{topic}`: sidecars with the same consumer id share the
messages, each other consumer id gets all of them. It is off by default
because of the broker-restart gap below: losing nothing comes first. Messages are
acknowledged (manual_ack) only when the handler returned; per subscription,
handlers run one at a time in arrival order. A resumed session delivers what
the broker kept as soon as it connects, before the runtime subscribes again:
those messages are held, unacknowledged, for the subscription that takes them.
The broker's second copy of a message whose PUBACK was lost with a connection
(same packet id, DUP, same content) is acknowledged without a second delivery.

Bulk subscriptions gather batches: up to maxMessagesCount messages, or those
that arrived within maxAwaitDurationMs of the batch's start, whichever comes
first. Batches are handled one at a time in arrival order, and every message
of a batch is acknowledged once the handler returned for the batch (none when
it raised: the batch is offered again). The broker may hold back messages
while others are unacknowledged (Mosquitto's max_inflight_messages, 20 by
default; 2.0.11 keeps to it at the start of a session only): such a batch is
smaller than maxMessagesCount and waits the whole maxAwaitDurationMs.

Mosquitto 2.0.11, checked by experiment:
- Shared subscriptions work for MQTT 3.1.1 clients. A member of a share group
  that is away with a persistent session keeps receiving its round-robin
  share, queued until it comes back: a sidecar that restarts loses nothing,
  but a replica that never returns strands its share (use cleanSession=true
  for replicas that come and go).
- A broker restart keeps sessions and their queued messages, and plain
  subscriptions, but forgets shared subscriptions (MQTT 3.1.1 and 5 alike):
  until the member subscribes again (done on every reconnect), messages
  published to the group are not kept for it. sharedSubscriptions=false
  avoids that window, at the price of every sidecar getting every message.
- Shared subscriptions get the retained message on each subscribe (2.0.13
  and later send them none), so after a reconnect a retained message may be
  delivered again (metadata retained=true).

paho's network loop runs in its own thread; every callback is carried into
the event loop with call_soon_threadsafe and all state lives on the loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import ssl
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge.components.metadata import Field
from edge.components.pubsub.base import (
    COMMON_FIELDS,
    BulkEntry,
    BulkHandler,
    BulkPublisher,
    Handler,
    Message,
    PublishError,
    PubSub,
    SubscribeError,
    SubscribeWildcards,
    Subscription,
)
from edge.components.pubsub.outbox import Forwarder, Limits, NotReady, Outbox, OutboxFull, Row
from edge.errors import ConfigError

log = logging.getLogger("edge.pubsub.mqtt3")

# scheme -> (paho transport, TLS, default port)
_SCHEMES: dict[str, tuple[str, bool, int]] = {
    "tcp": ("tcp", False, 1883), "mqtt": ("tcp", False, 1883),
    "ssl": ("tcp", True, 8883), "tls": ("tcp", True, 8883),
    "mqtts": ("tcp", True, 8883), "tcps": ("tcp", True, 8883),
    "ws": ("websockets", False, 80), "wss": ("websockets", True, 443),
}
_MAX_PAYLOAD = 268_435_455 - 65_535 - 4  # MQTT's packet limit, less the topic's room
_CONNECT_TIMEOUT = 3.0
_FIRST_CONNACK_WAIT = 2.0
_SUBACK_WAIT = 10.0
_RECONNECT_MIN, _RECONNECT_MAX = 0.5, 30.0
_CLOSE_DRAIN = 2.0
# QoS 2 messages sent and not yet released (PUBREL), at most. A broker limits
# how many of a client's incoming QoS 2 messages may wait for their PUBREL
# (Mosquitto 2.0: max_inflight_messages, 20 by default) and drops the ones
# beyond "quota exceeded"; an MQTT 3.1.1 PUBREC carries no reason code, so the
# client completes the flow and the message is lost unseen. QoS 1 has no such
# wait (the broker answers PUBACK at once), so its window is not capped.
_QOS2_WINDOW = 20
# Acknowledged packet ids remembered to spot the broker's resend of one whose
# PUBACK was lost; more than any broker keeps in flight to one client.
_RECENT_ACKS = 1024
# Messages held for a subscription not made yet (the broker limits how many it
# sends unacknowledged anyway: max_inflight_messages, 20 by default).
_MAX_PARKED = 10_000
# How long after the last subscription unrouted messages are still held for one.
_PARK_GRACE = 30.0

_OUTBOX_FIELDS = (
    Field("outboxPath", description="the outbox's SQLite file "
          "(default: <edge home>/outbox/<app id>-<component>.db)"),
    Field("outboxMaxMessages", "int", default=100_000,
          description="messages the outbox holds while the broker is away; "
          "publishing beyond fails (the API answers an error)"),
    Field("outboxMaxBytes", "int", default=64 * 1024 * 1024,
          description="payload bytes the outbox holds; publishing beyond fails"),
    Field("outboxMaxAge", "duration", default=0.0,
          description="messages waiting longer for the broker are dropped with a warning "
          "(counted in outboxExpired); 0 keeps them until they are sent"),
    Field("maxInflightMessages", "int", default=64,
          description="messages sent to the broker and not yet acknowledged, at most; with "
          "qos 2 at most 20 (Mosquitto's max_inflight_messages default: a broker drops QoS 2 "
          "messages beyond its limit without telling an MQTT 3.1.1 client), so set it to the "
          "broker's limit if that is lower"),
)

FIELDS: tuple[Field, ...] = (
    Field("url", required=True, sensitive=True,
          description="broker address: tcp:// or mqtt://, ssl:// or tls://, ws://, wss://; "
          "credentials as tcp://user:password@host:1883"),
    Field("qos", "int", default=1,
          description="quality of service: 0, 1 or 2 (subscriptions use at most 1: a message "
          "is acknowledged once the app took it)"),
    Field("retain", "bool", default=False,
          description="the broker keeps the last message of a topic for new subscribers "
          "(per message: metadata retain)"),
    Field("cleanSession", "bool", default=False,
          description="false: the broker keeps subscriptions and QoS 1/2 messages while the "
          "sidecar is away"),
    Field("caCert", description="PEM CA certificate the broker's certificate must chain to"),
    Field("clientCert", sensitive=True, description="PEM client certificate (mutual TLS)"),
    Field("clientKey", sensitive=True, description="PEM key of clientCert"),
    Field("sharedSubscriptions", "bool", default=False,
          description="subscribe as $share/<consumerID>/<topic>, so replicas with one "
          "consumer id share the messages (on Mosquitto 2.0 a broker restart drops shared "
          "subscriptions until resubscribed: messages published in between are lost); "
          "false: every sidecar gets every message"),
    Field("keepAlive", "duration", default=30.0,
          description="a silent connection is probed, and dropped after 1.5 times this"),
    *_OUTBOX_FIELDS,
    *COMMON_FIELDS,
)


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    transport: str
    tls: bool
    username: str | None
    password: str | None
    ws_path: str


def parse_url(url: str) -> Broker:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigError(f"unsupported scheme {parts.scheme!r} in url (use one of "
                          + ", ".join(f"{s}://" for s in _SCHEMES) + ")", field="url")
    transport, tls, default_port = _SCHEMES[scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ConfigError("the url's port is not a number in 1-65535", field="url") from None
    if not parts.hostname:
        raise ConfigError("the url names no host", field="url")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Broker(parts.hostname, port, transport, tls, username, password, parts.path or "/mqtt")


def check_topic(topic: str) -> None:
    """A topic one may publish to; PublishError otherwise."""
    if not topic:
        raise PublishError("topic is empty")
    if "+" in topic or "#" in topic:
        raise PublishError(f"topic {topic!r} has a wildcard (+ or #); wildcards are for "
                           "subscriptions only")
    if topic.startswith("$"):
        raise PublishError(f"topic {topic!r} starts with $, which brokers keep for themselves")
    if "\0" in topic or len(topic.encode("utf-8")) > 65535:
        raise PublishError("topic has a NUL character or is longer than 65535 bytes")


def check_filter(topic: str) -> None:
    """A topic filter one may subscribe to; SubscribeError otherwise."""
    levels = topic.split("/")
    bad = (not topic or "\0" in topic
           or any(("+" in level and level != "+") or ("#" in level and level != "#")
                  for level in levels)
           or "#" in levels[:-1])
    if bad:
        raise SubscribeError(f"invalid topic filter {topic!r}: + must fill a whole level, "
                             "# must be the whole last level")


def consumer_group(template: str, app_id: str, namespace: str) -> str:
    """Dapr's consumerID templates, then a check that it fits in $share/{group}/."""
    group = (template.replace("{uuid}", str(uuid.uuid4()))
             .replace("{appID}", app_id).replace("{namespace}", namespace)
             .replace("{podName}", os.environ.get("POD_NAME") or socket.gethostname()))
    if not group or any(c in group for c in "/+#"):
        raise ConfigError(f"consumerID {group!r} may not be empty nor contain / + #",
                          field="consumerID")
    return group


def broker_topics(topic: str, group: str, shared: bool) -> tuple[str, str]:
    """(what to subscribe to, the filter incoming topics are matched against)."""
    if not shared:
        return topic, topic
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        if len(parts) < 3 or not parts[1]:
            raise SubscribeError(f"invalid shared subscription {topic!r} "
                                 "($share/{group}/{filter})")
        return topic, parts[2]
    return f"$share/{group}/{topic}", topic


@dataclass(slots=True)
class _Inbound:
    """A received QoS 1/2 message not acknowledged to the broker yet."""

    mid: int
    qos: int
    digest: bytes
    # The connection it arrived on (acknowledgements are only valid there);
    # None when the broker forgot the session it belonged to.
    generation: int | None
    handled: bool = False


@dataclass(slots=True)
class _Sub:
    broker_topic: str
    filter: str
    handler: Handler
    unsubscribe_on_close: bool
    # The broker confirmed it in the current session.
    confirmed: bool = False
    queue: asyncio.Queue[tuple[_Inbound | None, Message]] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    # Set for a bulk subscription: batches go to it, not to `handler`.
    bulk: _Bulk | None = None
    # Bulk: the messages taken off the queue for the batch being gathered or handled.
    in_hand: list[_Inbound] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Bulk:
    handler: BulkHandler
    max_messages: int
    max_await: float  # seconds


class _Handle(Subscription):
    def __init__(self, owner: MqttPubSub, sub: _Sub) -> None:
        self._owner = owner
        self._sub = sub

    async def close(self) -> None:
        await self._owner._unsubscribe(self._sub)


class MqttPubSub(PubSub, SubscribeWildcards, BulkPublisher):
    type_name: ClassVar[str] = "pubsub.mqtt3"
    description: ClassVar[str] = (
        "MQTT 3.1.1 broker (paho); publishes go through a durable outbox, so they succeed "
        "and keep their order while the broker is away.")
    fields: ClassVar[tuple[Field, ...]] = FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broker = parse_url(self.meta["url"])
        self.qos = self._check_qos(self.meta["qos"])
        self.group = consumer_group(self.meta.get("consumerID") or self.ctx.app_id,
                                    self.ctx.app_id, self.ctx.namespace)
        self.client_id = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: paho.Client | None = None
        self._outbox: Outbox | None = None
        self._forwarder: Forwarder | None = None
        self._connected = asyncio.Event()
        self._generation = 0
        self._first_connack: asyncio.Future[ReasonCode] | None = None
        self._subs: dict[str, _Sub] = {}
        self._publishes: dict[int, asyncio.Future[None]] = {}
        self._subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self._unacked: dict[int, _Inbound] = {}
        self._recent_acks: OrderedDict[int, tuple[bytes, int]] = OrderedDict()
        self._parked: list[tuple[_Inbound | None, Message]] = []
        self._park_grace_over = False
        self._park_timer: asyncio.TimerHandle | None = None
        self._closed_filters: set[str] = set()
        self._closing = False
        self._reported_down = False
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def _check_qos(qos: int) -> int:
        if qos not in (0, 1, 2):
            raise ConfigError(f"qos must be 0, 1 or 2, not {qos}", field="qos")
        return qos

    # -- starting and stopping ---------------------------------------------------

    async def init(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._outbox = await Outbox.open_free_slot(self._outbox_path(), self._limits())
        suffix = await self._outbox.setting("client-suffix", lambda: secrets.token_hex(4))
        self.client_id = f"{self.group}-{suffix}"
        self._client = self._make_client(self._tls_context() if self.broker.tls else None)
        await self._connect_first()
        self._forwarder = Forwarder(self._outbox, self._send, self._window(), self._connected)
        self._forwarder.start()

    def _outbox_path(self) -> Path:
        if self.meta.get("outboxPath"):
            return Path(self.meta["outboxPath"]).expanduser()
        return self.ctx.home / "outbox" / f"{self.ctx.app_id}-{self.name}.db"

    def _limits(self) -> Limits:
        for name in ("outboxMaxMessages", "outboxMaxBytes", "maxInflightMessages"):
            if self.meta[name] < 1:
                raise ConfigError("must be 1 or more", field=name)
        if self.meta["outboxMaxAge"] < 0:
            raise ConfigError("must be 0 (no limit) or more", field="outboxMaxAge")
        return Limits(self.meta["outboxMaxMessages"], self.meta["outboxMaxBytes"],
                      self.meta["outboxMaxAge"])

    def _window(self) -> int:
        """Messages handed to the broker and not acknowledged yet, at most."""
        window: int = self.meta["maxInflightMessages"]
        return min(window, _QOS2_WINDOW) if self.qos == 2 else window

    def _tls_context(self) -> ssl.SSLContext:
        ca, cert, key = (self.meta.get(k) for k in ("caCert", "clientCert", "clientKey"))
        if bool(cert) != bool(key):
            raise ConfigError("clientCert and clientKey go together",
                              field="clientKey" if cert else "clientCert")
        try:
            if ca:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.load_verify_locations(cadata=ca)
            else:
                context = ssl.create_default_context()
            if cert and key:
                _load_client_pair(context, cert, key)
        except (ssl.SSLError, ValueError) as exc:
            raise ConfigError(f"TLS settings cannot be used: {exc}", field="caCert") from None
        return context

    def _make_client(self, tls: ssl.SSLContext | None) -> paho.Client:
        if not self.broker.tls and any(self.meta.get(k)
                                       for k in ("caCert", "clientCert", "clientKey")):
            # Silently dropping certificates an operator configured would be a downgrade.
            raise ConfigError("caCert/clientCert/clientKey are set but the url does not use "
                              "TLS: use ssl://, tls:// or wss://", field="url")
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             clean_session=self.meta["cleanSession"],
                             protocol=MQTTProtocolVersion.MQTTv311,
                             transport=self.broker.transport,  # type: ignore[arg-type]
                             manual_ack=True)
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.transport == "websockets":
            client.ws_set_options(path=self.broker.ws_path)
        if tls is not None:
            client.tls_set_context(tls)
        client.connect_timeout = _CONNECT_TIMEOUT
        # The forwarder keeps at most this many unacknowledged; paho must send them all.
        client.max_inflight_messages_set(self._window())
        client.reconnect_delay_set(_RECONNECT_MIN, _RECONNECT_MAX)  # type: ignore[arg-type]
        client.on_connect = self._paho_connect
        client.on_connect_fail = self._paho_connect_fail
        client.on_disconnect = self._paho_disconnect
        client.on_publish = self._paho_publish
        client.on_subscribe = self._paho_subscribe
        client.on_message = self._paho_message
        return client

    async def _connect_first(self) -> None:
        """One attempt in the foreground, so that settings that can never work
        (TLS, credentials) fail the component's start with their reason; an
        unreachable broker does not: the outbox keeps messages until it is back."""
        assert self._client is not None and self._loop is not None
        self._first_connack = self._loop.create_future()
        keepalive = max(1, round(self.meta["keepAlive"]))
        try:
            await asyncio.to_thread(self._client.connect, self.broker.host, self.broker.port,
                                    keepalive)
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(f"the broker's TLS certificate is not trusted: {exc}",
                              field="caCert") from None
        except OSError as exc:
            self._reported_down = True
            log.warning("pubsub %s: broker %s:%d not reachable (%s); messages are kept in the "
                        "outbox until it is", self.name, self.broker.host, self.broker.port, exc)
            self._client.connect_async(self.broker.host, self.broker.port, keepalive)
            self._client.loop_start()
            return
        self._client.loop_start()
        with contextlib.suppress(TimeoutError):
            reason = await asyncio.wait_for(asyncio.shield(self._first_connack),
                                            _FIRST_CONNACK_WAIT)
            if reason.is_failure:
                raise ConfigError(f"the broker refused the connection: {reason}", field="url")

    async def close(self) -> None:
        self._closing = True
        if self._park_timer is not None:
            self._park_timer.cancel()
        if self._forwarder is not None:
            await self._forwarder.stop(_CLOSE_DRAIN)
        for sub in list(self._subs.values()):
            await _stop_worker(sub)
        self._subs.clear()
        if self._client is not None:
            # Acknowledgements queued by the handlers go out before the DISCONNECT.
            self._client.disconnect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(self._client.loop_stop),
                                       _CONNECT_TIMEOUT + 2)
            self._client = None
        self._connected.clear()
        for fut in [*self._publishes.values(), *self._subacks.values()]:
            fut.cancel()
        if self._outbox is not None:
            await self._outbox.close()
            self._outbox = None

    # -- paho's thread: hand everything to the event loop -----------------------

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed under a late callback
            self._loop.call_soon_threadsafe(callback, *args)

    def _paho_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        self._to_loop(self._on_connect, flags.session_present, reason)

    def _paho_connect_fail(self, _c: Any, _u: Any) -> None:
        self._to_loop(self._on_connect_fail)

    def _paho_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._to_loop(self._on_disconnect, reason)

    def _paho_publish(self, _c: Any, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        self._to_loop(self._on_puback, mid)

    def _paho_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode],
                        _p: Any) -> None:
        self._to_loop(self._on_suback, mid, reasons)

    def _paho_message(self, _c: Any, _u: Any, message: paho.MQTTMessage) -> None:
        self._to_loop(self._on_message, message)

    # -- connection state, on the loop -------------------------------------------

    def _on_connect(self, session_present: bool, reason: ReasonCode) -> None:
        if self._first_connack is not None and not self._first_connack.done():
            self._first_connack.set_result(reason)
        if self._closing:
            return
        if reason.is_failure:
            level = logging.DEBUG if self._reported_down else logging.ERROR
            log.log(level, "pubsub %s: the broker refused the connection: %s", self.name, reason)
            self._reported_down = True
            return
        self._generation += 1
        if not session_present:
            self._forget_session()
        self._connected.set()
        level = logging.INFO if self._reported_down or self._generation == 1 else logging.DEBUG
        log.log(level, "pubsub %s: connected to %s:%d as %s (session %s)", self.name,
                self.broker.host, self.broker.port, self.client_id,
                "resumed" if session_present else "new")
        self._reported_down = False
        if self._subs:
            task = asyncio.create_task(self._resubscribe(session_present))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _on_connect_fail(self) -> None:
        if not self._reported_down and not self._closing:
            log.warning("pubsub %s: broker %s:%d not reachable; retrying, messages are kept "
                        "in the outbox", self.name, self.broker.host, self.broker.port)
        self._reported_down = True

    def _on_disconnect(self, reason: ReasonCode) -> None:
        self._connected.clear()
        if not self._closing and not self._reported_down:
            log.warning("pubsub %s: connection to the broker lost (%s); reconnecting",
                        self.name, reason)
            self._reported_down = True

    def _forget_session(self) -> None:
        """The broker has no session of ours: it will redeliver nothing, and the
        packet ids of messages still in hand mean nothing on this connection."""
        self._recent_acks.clear()
        for mid, entry in list(self._unacked.items()):
            if entry.handled:
                del self._unacked[mid]
            else:
                entry.generation = None

    # -- publishing ----------------------------------------------------------------

    async def publish(self, message: Message) -> None:
        retain = self._retain(message.metadata)
        if len(message.data) > _MAX_PAYLOAD:
            raise PublishError(f"message of {len(message.data)} bytes is larger than MQTT allows")
        check_topic(message.topic)
        if self._outbox is None or self._closing:
            raise PublishError(f"pubsub {self.name} is not running")
        try:
            await self._outbox.put(message.topic, message.data,
                                   {"retain": True} if retain else None)
        except OutboxFull as exc:
            raise PublishError(str(exc)) from None
        except (OSError, RuntimeError) as exc:
            raise PublishError(f"outbox: {exc}") from None

    def _retain(self, metadata: dict[str, str]) -> bool:
        value = metadata.get("retain")
        if value is None or value == "":
            return bool(self.meta["retain"])
        try:
            return Field("retain", "bool").parse(value)  # type: ignore[no-any-return]
        except ConfigError:
            raise PublishError(f"metadata retain {value!r} is not true or false") from None

    async def bulk_publish(self, entries: list[BulkEntry]) -> dict[str, str]:
        # Started in order, the puts queue in order and share one commit.
        results = await asyncio.gather(*(self.publish(e.message) for e in entries),
                                       return_exceptions=True)
        return {entry.entry_id: str(result) for entry, result in zip(entries, results, strict=True)
                if isinstance(result, BaseException)}

    def _send(self, row: Row) -> asyncio.Future[None]:
        """Hand one outbox row to paho; the future resolves on the broker's PUBACK."""
        assert self._client is not None and self._loop is not None
        if not self._connected.is_set():
            raise NotReady
        info = self._client.publish(row.topic, row.payload, self.qos,
                                    bool(row.meta.get("retain", False)))
        acked: asyncio.Future[None] = self._loop.create_future()
        if self.qos == 0:
            # At most once: a QoS 0 message is done when it is on its way, and one
            # paho could not queue is taken again once connected.
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise NotReady
            acked.set_result(None)
            return acked
        # For QoS 1/2 paho keeps the message even without a connection (rc NO_CONN)
        # and sends it after the reconnect: handed over either way.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.error("pubsub %s: paho refused a message (%s); trying again",
                      self.name, paho.error_string(info.rc))
            raise NotReady
        self._publishes[info.mid] = acked
        return acked

    def _on_puback(self, mid: int) -> None:
        acked = self._publishes.pop(mid, None)
        if acked is not None and not acked.done():
            acked.set_result(None)

    # -- subscribing -----------------------------------------------------------------

    async def subscribe(self, topic: str, handler: Handler,
                        metadata: dict[str, str]) -> Subscription:
        return await self._open(topic, handler, metadata, None)

    async def bulk_subscribe(self, topic: str, handler: BulkHandler, metadata: dict[str, str],
                             max_messages: int, max_await: float) -> Subscription:
        async def not_bulk(message: Message) -> None:  # pragma: no cover - never called
            raise RuntimeError("a bulk subscription handles batches")

        bulk = _Bulk(handler, max(1, max_messages), max(0.0, max_await))
        return await self._open(topic, not_bulk, metadata, bulk)

    async def _open(self, topic: str, handler: Handler, metadata: dict[str, str],
                    bulk: _Bulk | None) -> Subscription:
        group = consumer_group(metadata.get("consumerID") or self.group, self.ctx.app_id,
                               self.ctx.namespace)
        broker_topic, pattern = broker_topics(topic, group, self.meta["sharedSubscriptions"])
        check_filter(pattern)
        unsubscribe = metadata.get("unsubscribeOnClose", "").lower() in ("true", "1", "yes")
        if any(s.filter == pattern for s in self._subs.values()):
            # One connection cannot tell which subscription a message came through.
            raise SubscribeError(f"already subscribed to {pattern!r} in pubsub {self.name}")
        sub = _Sub(broker_topic, pattern, handler, unsubscribe, bulk=bulk)
        self._closed_filters.discard(pattern)
        self._subs[broker_topic] = sub
        self._unpark(sub)
        self._restart_park_grace()
        work = self._deliver_batches(sub) if bulk is not None else self._deliver(sub)
        sub.worker = asyncio.create_task(work, name=f"mqtt {broker_topic}")
        if self._connected.is_set():
            try:
                await self._subscribe_on_broker([sub])
            except SubscribeError:
                self._subs.pop(broker_topic, None)
                await _stop_worker(sub)
                raise
        # Not connected: the subscription is made with the others on (re)connect.
        return _Handle(self, sub)

    async def _subscribe_on_broker(self, subs: list[_Sub]) -> None:
        assert self._client is not None and self._loop is not None
        # At most QoS 1 towards the sidecar: paho answers a QoS 2 PUBLISH with PUBREC
        # before the handler ran, so a crash then would lose the message.
        qos = min(self.qos, 1)
        rc, mid = self._client.subscribe([(s.broker_topic, qos) for s in subs])
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            return  # no connection: on_connect subscribes again
        suback: asyncio.Future[list[ReasonCode]] = self._loop.create_future()
        self._subacks[mid] = suback
        try:
            reasons = await asyncio.wait_for(suback, _SUBACK_WAIT)
        except TimeoutError:
            log.warning("pubsub %s: no SUBACK in %gs; subscribing again on the next connection",
                        self.name, _SUBACK_WAIT)
            return
        finally:
            self._subacks.pop(mid, None)
        refused = [s.broker_topic for s, r in zip(subs, reasons, strict=False) if r.is_failure]
        for sub, reason in zip(subs, reasons, strict=False):
            sub.confirmed = not reason.is_failure
        if refused:
            raise SubscribeError(f"the broker refused the subscription to {', '.join(refused)}")

    def _on_suback(self, mid: int, reasons: list[ReasonCode]) -> None:
        suback = self._subacks.get(mid)
        if suback is not None and not suback.done():
            suback.set_result(reasons)

    async def _resubscribe(self, session_present: bool) -> None:
        """Subscriptions again on a new connection. A resumed session keeps plain
        subscriptions (subscribing again would repeat retained messages), but
        Mosquitto 2.0 forgets shared ones when it restarts, so those are always
        made again."""
        shared = self.meta["sharedSubscriptions"]
        if not session_present:
            for sub in self._subs.values():
                sub.confirmed = False
        subs = [s for s in self._subs.values() if shared or not s.confirmed]
        if not subs:
            return
        try:
            await self._subscribe_on_broker(subs)
        except SubscribeError as exc:
            log.error("pubsub %s: %s", self.name, exc)

    async def _unsubscribe(self, sub: _Sub) -> None:
        if self._subs.get(sub.broker_topic) is not sub:
            return
        del self._subs[sub.broker_topic]
        self._closed_filters.add(sub.filter)
        await _stop_worker(sub)
        # What was received and not handled stays unacknowledged: the broker sends
        # it again on the next session. Forget it here so it counts as new then.
        while not sub.queue.empty():
            entry, _ = sub.queue.get_nowait()
            if entry is not None and self._unacked.get(entry.mid) is entry:
                del self._unacked[entry.mid]
        for entry in sub.in_hand:  # a bulk batch that was not handled
            if self._unacked.get(entry.mid) is entry:
                del self._unacked[entry.mid]
        sub.in_hand = []
        # As Dapr does: keep the broker-side subscription of a persistent session,
        # so that messages keep being kept for the sidecar's next start.
        if (self.meta["cleanSession"] or sub.unsubscribe_on_close) and self._client is not None:
            self._client.unsubscribe(sub.broker_topic)

    # -- receiving -------------------------------------------------------------------

    def _route(self, topic: str) -> _Sub | None:
        for sub in self._subs.values():
            if sub.filter == topic:
                return sub
        for sub in self._subs.values():
            if paho.topic_matches_sub(sub.filter, topic):
                return sub
        return None

    def _on_message(self, msg: paho.MQTTMessage) -> None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            log.warning("pubsub %s: dropped a message whose topic is not UTF-8", self.name)
            self._ack(msg.mid, msg.qos)
            return
        message = Message(topic, bytes(msg.payload), {"retained": str(bool(msg.retain)).lower()})
        entry = self._track(msg, topic) if msg.qos > 0 else None
        if msg.qos > 0 and entry is None:
            return  # the broker's second copy of one in hand
        sub = self._route(topic)
        if sub is not None:
            sub.queue.put_nowait((entry, message))
        else:
            self._park(entry, message)

    def _park(self, entry: _Inbound | None, message: Message) -> None:
        """A resumed session delivers what the broker kept as soon as it connects,
        before the runtime has subscribed again: hold those messages (unacknowledged)
        for the subscription that takes them."""
        if any(paho.topic_matches_sub(f, message.topic) for f in self._closed_filters):
            # Its subscription was closed (the sidecar stopping, most often): leave
            # it unacknowledged for the broker to send again on the next session.
            if entry is not None and self._unacked.get(entry.mid) is entry:
                del self._unacked[entry.mid]
        elif self._park_grace_over:
            self._drop_unwanted(entry, message)
        elif len(self._parked) >= _MAX_PARKED:
            # Unacknowledged: the broker sends it again on the next session.
            if entry is not None:
                self._unacked.pop(entry.mid, None)
            log.warning("pubsub %s: no subscription for a message on %s; left to the broker",
                        self.name, message.topic)
        else:
            self._parked.append((entry, message))

    def _restart_park_grace(self) -> None:
        """The runtime makes its subscriptions together; messages still without one
        a while after the last are for topics the app no longer subscribes to (a
        persistent session keeps old subscriptions). Left unacknowledged they would
        hold the broker's in-flight slots and stall every other subscription."""
        self._park_grace_over = False
        if self._park_timer is not None:
            self._park_timer.cancel()
        assert self._loop is not None
        self._park_timer = self._loop.call_later(_PARK_GRACE, self._end_park_grace)

    def _end_park_grace(self) -> None:
        self._park_timer = None
        self._park_grace_over = True
        parked, self._parked = self._parked, []
        for entry, message in parked:
            self._drop_unwanted(entry, message)

    def _drop_unwanted(self, entry: _Inbound | None, message: Message) -> None:
        log.warning("pubsub %s: message on %s dropped: the app has no subscription for it "
                    "(an old subscription of the broker session?)", self.name, message.topic)
        if entry is not None:
            self._settle(entry)

    def _unpark(self, sub: _Sub) -> None:
        kept: list[tuple[_Inbound | None, Message]] = []
        for item in self._parked:
            if self._route(item[1].topic) is sub:
                sub.queue.put_nowait(item)
            else:
                kept.append(item)
        self._parked = kept

    def _track(self, msg: paho.MQTTMessage, topic: str) -> _Inbound | None:
        """The bookkeeping entry of a new message; None for the broker's second
        copy (DUP, same packet id and content, sent on a resumed session) of one
        this sidecar handled or holds already from a previous connection."""
        digest = hashlib.blake2b(topic.encode() + b"\0" + msg.payload, digest_size=16).digest()
        if msg.dup and self._redelivered(msg.mid, msg.qos, digest):
            return None
        entry = _Inbound(msg.mid, msg.qos, digest, self._generation)
        self._unacked[msg.mid] = entry
        return entry

    def _redelivered(self, mid: int, qos: int, digest: bytes) -> bool:
        known = self._unacked.get(mid)
        if known is not None and known.digest == digest and known.generation != self._generation:
            if known.handled:
                # Handled already; its acknowledgement was lost with the old connection.
                del self._unacked[mid]
                self._ack(mid, qos)
            else:
                # Still queued: its handler acknowledges it on this connection.
                known.generation = self._generation
            return True
        acked = self._recent_acks.get(mid)
        if acked is not None and acked[0] == digest and acked[1] < self._generation:
            # Acknowledged, but the PUBACK went down with the connection.
            self._ack(mid, qos)
            return True
        return False

    async def _deliver(self, sub: _Sub) -> None:
        while True:
            entry, message = await sub.queue.get()
            await self._handle(sub, message)
            if entry is not None:
                self._settle(entry)

    async def _handle(self, sub: _Sub, message: Message) -> None:
        """The handler until it takes the message. The runtime's retry policy
        (backOffMaxRetries, dead-letter topics) lives inside the handler; when it
        still raises, the message is offered again after a pause, and the ones
        after it wait, so the order holds."""
        delay = max(self.meta.get("backOffInitialInterval") or 0.5, 0.01)
        longest = max(self.meta.get("backOffMaxInterval") or 5.0, delay)
        failures = 0
        while True:
            try:
                await sub.handler(message)
                return
            except Exception as exc:  # the handler's failure; the message stays ours
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "pubsub %s: delivery of a message on %s failed (%s); offering "
                        "it again in %gs", self.name, message.topic, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

    async def _deliver_batches(self, sub: _Sub) -> None:
        assert sub.bulk is not None
        while True:
            batch = await self._gather(sub, sub.bulk)
            await self._handle_batch(sub, sub.bulk, [message for _, message in batch])
            sub.in_hand = []
            # Only now, and in order: what the handler took is acknowledged.
            for entry, _ in batch:
                if entry is not None:
                    self._settle(entry)

    async def _gather(self, sub: _Sub,
                      bulk: _Bulk) -> list[tuple[_Inbound | None, Message]]:
        """The next batch: from its first message, the ones that follow until it is
        full or max_await has passed."""
        assert self._loop is not None
        batch = [await sub.queue.get()]
        deadline = self._loop.time() + bulk.max_await
        while True:
            entry = batch[-1][0]
            if entry is not None:
                sub.in_hand.append(entry)
            if len(batch) >= bulk.max_messages:
                return batch
            if sub.queue.empty():
                try:
                    async with asyncio.timeout_at(deadline):
                        batch.append(await sub.queue.get())
                except TimeoutError:
                    return batch
            else:
                batch.append(sub.queue.get_nowait())

    async def _handle_batch(self, sub: _Sub, bulk: _Bulk, messages: list[Message]) -> None:
        """As _handle, for a batch: offered again, whole and in order, until the
        handler returns."""
        delay = max(self.meta.get("backOffInitialInterval") or 0.5, 0.01)
        longest = max(self.meta.get("backOffMaxInterval") or 5.0, delay)
        failures = 0
        while True:
            try:
                await bulk.handler(list(messages))
                return
            except Exception as exc:  # the handler's failure; the batch stays ours
                failures += 1
                level = logging.WARNING if failures == 1 else logging.DEBUG
                log.log(level, "pubsub %s: delivery of a batch of %d messages on %s failed "
                        "(%s); offering it again in %gs", self.name, len(messages),
                        sub.filter, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, longest)

    def _settle(self, entry: _Inbound) -> None:
        if self._unacked.get(entry.mid) is not entry:
            return
        if entry.generation is None:
            del self._unacked[entry.mid]  # the broker forgot it: nothing to acknowledge
        elif entry.generation == self._generation and self._connected.is_set():
            del self._unacked[entry.mid]
            self._ack(entry.mid, entry.qos)
            self._remember_ack(entry)
        else:
            # The connection it came on is gone; the broker sends it again (DUP)
            # when the session resumes, and that copy is acknowledged unseen.
            entry.handled = True

    def _remember_ack(self, entry: _Inbound) -> None:
        """A PUBACK may be lost with its connection; the broker then sends the
        message again on the resumed session, where this recognises it."""
        self._recent_acks[entry.mid] = (entry.digest, self._generation)
        self._recent_acks.move_to_end(entry.mid)
        if len(self._recent_acks) > _RECENT_ACKS:
            self._recent_acks.popitem(last=False)

    def _ack(self, mid: int, qos: int) -> None:
        if self._client is not None and qos > 0:
            self._client.ack(mid, qos)

    # -- /v1.0/metadata ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        outbox = self._outbox
        return {
            "connected": self._connected.is_set(),
            "outboxDepth": outbox.depth if outbox else 0,
            "outboxOldestAgeSeconds": round(outbox.oldest_age(), 3) if outbox else 0.0,
            "outboxExpired": outbox.expired if outbox else 0,
        }


async def _stop_worker(sub: _Sub) -> None:
    if sub.worker is not None:
        sub.worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sub.worker
        sub.worker = None


def _load_client_pair(context: ssl.SSLContext, cert: str, key: str) -> None:
    """ssl reads a certificate chain from files only: write the PEM text to a
    private folder for the moment of loading."""
    with tempfile.TemporaryDirectory(prefix="edge-mqtt-") as folder:
        paths = []
        for name, text in (("cert.pem", cert), ("key.pem", key)):
            path = Path(folder) / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(text)
            paths.append(path)
        context.load_cert_chain(paths[0], paths[1])

