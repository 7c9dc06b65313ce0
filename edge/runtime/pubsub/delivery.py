"""Handing events to a subscriber and reading its verdict. A Consumer delivers
through a Target: the app over HTTP (here), the app over gRPC (grpcapp.py) or
a streaming subscription (streaming.py). Over HTTP, as Dapr does: 2xx is
success unless the body says {"status": "RETRY"} or "DROP", 404 drops the
event, anything else (or no answer) asks for a retry."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from multidict import CIMultiDict

from edge.components.pubsub.base import Message
from edge.runtime.channel import HOP_HEADERS, ChannelError, Reply

if TYPE_CHECKING:
    from edge.runtime.pubsub.subscriptions import SubscriptionSpec
    from edge.runtime.sidecar import Sidecar

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_NOT_FORWARDED = HOP_HEADERS | {"content-type"}


class Status(enum.Enum):
    SUCCESS = "SUCCESS"
    RETRY = "RETRY"
    DROP = "DROP"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    reason: str = ""
    # True when the app could not even be reached: it surely did not get the
    # event, so the attempt does not count against the retry limit.
    unreachable: bool = False


SUCCESS = Outcome(Status.SUCCESS)


@dataclass(frozen=True)
class Delivery:
    """One event for the subscriber, in the forms the targets need."""

    spec: SubscriptionSpec
    message: Message
    event: dict[str, Any]  # the CloudEvent (for a raw payload, the one wrapped around it)
    path: str
    body: bytes  # what HTTP posts
    # Message metadata, pubsubName, Content-Type and the delivery's trace context.
    headers: CIMultiDict[str]


@dataclass(frozen=True)
class BulkItem:
    entry_id: str
    message: Message
    event: dict[str, Any]


@dataclass(frozen=True)
class BulkDelivery:
    """Entries that share a path, delivered in one request."""

    spec: SubscriptionSpec
    path: str
    items: list[BulkItem]
    body: bytes  # what HTTP posts: Dapr's bulk envelope
    headers: CIMultiDict[str]

    @property
    def ids(self) -> list[str]:
        return [item.entry_id for item in self.items]


class Target(Protocol):
    """Where a subscription's events go; each answer is the subscriber's verdict."""

    async def deliver(self, delivery: Delivery) -> Outcome: ...

    async def deliver_bulk(self, delivery: BulkDelivery) -> dict[str, Outcome]: ...


class HttpTarget:
    """POST to the app, as /dapr/subscribe and Subscription files route."""

    def __init__(self, sidecar: Sidecar) -> None:
        self.sidecar = sidecar

    async def deliver(self, delivery: Delivery) -> Outcome:
        return await deliver(self.sidecar, delivery.path, delivery.body, delivery.headers.copy())

    async def deliver_bulk(self, delivery: BulkDelivery) -> dict[str, Outcome]:
        return await deliver_bulk(self.sidecar, delivery.path, delivery.body,
                                  delivery.headers.copy(), delivery.ids)


def metadata_headers(metadata: Mapping[str, str]) -> CIMultiDict[str]:
    """Message metadata as headers, as Dapr passes it; whatever is not a
    valid header, or would change how the request is read, is left out."""
    headers: CIMultiDict[str] = CIMultiDict()
    for key, value in metadata.items():
        if (_TOKEN.fullmatch(key) and key.lower() not in _NOT_FORWARDED
                and "\r" not in value and "\n" not in value):
            headers[key] = value
    return headers


def _excerpt(body: bytes) -> str:
    text = body[:200].decode("utf-8", errors="replace")
    return text + ("..." if len(body) > 200 else "")


def _verdict(value: Any) -> Outcome:
    if value in (None, "") or (isinstance(value, str) and value.upper() == "SUCCESS"):
        return SUCCESS
    if isinstance(value, str) and value.upper() in ("RETRY", "DROP"):
        return Outcome(Status(value.upper()), f"the app answered {value.upper()}")
    return Outcome(Status.RETRY, f"the app answered an unknown status {value!r}")


def read_reply(reply: Reply) -> Outcome:
    if 200 <= reply.status < 300:
        try:
            answer = json.loads(reply.body)
        except ValueError:
            return SUCCESS  # an empty or non-JSON 2xx body is a success for Dapr too
        return _verdict(answer.get("status") if isinstance(answer, dict) else None)
    if reply.status == 404:
        return Outcome(Status.DROP, f"the app answered 404: {_excerpt(reply.body)}")
    return Outcome(Status.RETRY, f"the app answered {reply.status}: {_excerpt(reply.body)}")


def read_bulk_reply(reply: Reply, entry_ids: list[str]) -> dict[str, Outcome]:
    """Each entry's outcome; an entry the app does not mention is retried."""
    if not 200 <= reply.status < 300:
        outcome = read_reply(reply)
        return dict.fromkeys(entry_ids, outcome)
    try:
        statuses = json.loads(reply.body).get("statuses")
        if not isinstance(statuses, list):
            raise ValueError("no statuses list")
    except (ValueError, AttributeError) as exc:
        failed = Outcome(Status.RETRY, f"the app's bulk answer is unreadable: {exc}")
        return dict.fromkeys(entry_ids, failed)
    missing = Outcome(Status.RETRY, "the app's answer has no status for this entry")
    found = dict.fromkeys(entry_ids, missing)
    for item in statuses:
        if isinstance(item, dict) and item.get("entryId") in found:
            status = item.get("status")
            # Unlike a single event's answer, a bulk entry needs an explicit status.
            found[item["entryId"]] = missing if status in (None, "") else _verdict(status)
    return found


async def post(sidecar: Sidecar, path: str, body: bytes,
               headers: CIMultiDict[str]) -> Reply | Outcome:
    """POST to the app; the reply, or the outcome of failing to get one."""
    url = f"{sidecar.app_url}/{path.lstrip('/')}"
    headers.update(sidecar.app_headers())
    try:
        return await sidecar.app.request("POST", url, headers, body)
    except ChannelError as exc:
        return Outcome(Status.RETRY, f"the app did not answer: {exc}", unreachable=exc.unsent)
    except ValueError as exc:  # a route that makes no valid URL: a failed try, not a crash
        return Outcome(Status.RETRY, f"cannot call the app at {path!r}: {exc}")


async def deliver(sidecar: Sidecar, path: str, body: bytes,
                  headers: CIMultiDict[str]) -> Outcome:
    reply = await post(sidecar, path, body, headers)
    return reply if isinstance(reply, Outcome) else read_reply(reply)


async def deliver_bulk(sidecar: Sidecar, path: str, body: bytes, headers: CIMultiDict[str],
                       entry_ids: list[str]) -> dict[str, Outcome]:
    reply = await post(sidecar, path, body, headers)
    if isinstance(reply, Outcome):
        return dict.fromkeys(entry_ids, reply)
    return read_bulk_reply(reply, entry_ids)
