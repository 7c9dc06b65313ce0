"""The target of a streaming subscription (SubscribeTopicEventsAlpha1): each
event goes out on the client's stream as a TopicEventRequest, and its verdict
is the event_processed answer the client sends back with the event's id.

An event the client does not answer is delivered again (per the component's
backoff) after ANSWER_TIMEOUT, or sooner under an inbound resiliency timeout:
events of a subscription go one at a time, so a forgotten answer must not
hold the rest back for ever. Imported only when gRPC is in use."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from edge.api.grpc.protos import pubsub as pb
from edge.runtime.pubsub.delivery import BulkDelivery, Delivery, Outcome, Status
from edge.runtime.pubsub.grpcapp import EnvelopeError, topic_event_request, verdict

log = logging.getLogger("edge.runtime.pubsub")

ANSWER_TIMEOUT = 60.0


class StreamTarget:
    def __init__(self, label: str) -> None:
        self.label = label
        self.outgoing: asyncio.Queue[pb.SubscribeTopicEventsResponseAlpha1] = asyncio.Queue()
        self.closed = asyncio.Event()
        self._waiting: dict[str, asyncio.Future[int]] = {}

    async def deliver(self, delivery: Delivery) -> Outcome:
        try:
            request = topic_event_request(delivery)
        except EnvelopeError as exc:
            return Outcome(Status.DROP, str(exc))
        if self.closed.is_set():
            return Outcome(Status.RETRY, "the stream is closed", unreachable=True)
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[request.id] = answer
        try:
            self.outgoing.put_nowait(pb.SubscribeTopicEventsResponseAlpha1(event_message=request))
            return await self._verdict(answer)
        finally:
            if self._waiting.get(request.id) is answer:
                del self._waiting[request.id]

    async def _verdict(self, answer: asyncio.Future[int]) -> Outcome:
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                await asyncio.wait({answer, closed}, return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError:
            return Outcome(Status.RETRY, f"the client did not answer in {ANSWER_TIMEOUT:g}s")
        finally:
            closed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await closed
        if answer.done():
            return verdict(answer.result())
        return Outcome(Status.RETRY, "the stream closed before the client answered",
                       unreachable=True)

    async def deliver_bulk(self, delivery: BulkDelivery) -> dict[str, Outcome]:
        # Streams take no batches (as in Dapr); should one come, it goes event by event.
        found: dict[str, Outcome] = {}
        for item in delivery.items:
            found[item.entry_id] = await self.deliver(Delivery(
                delivery.spec, item.message, item.event, delivery.path, b"", delivery.headers))
        return found

    def answered(self, processed: pb.SubscribeTopicEventsRequestProcessedAlpha1) -> None:
        answer = self._waiting.get(processed.id)
        if answer is None or answer.done():
            # A late answer to an event already redelivered, or a wrong id.
            log.warning("%s: the client answered event %r, which is not awaiting an answer",
                        self.label, processed.id)
            return
        answer.set_result(processed.status.status)

    def close(self) -> None:
        self.closed.set()
