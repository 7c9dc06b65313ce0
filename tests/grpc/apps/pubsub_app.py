"""A gRPC subscriber for the pub/sub tests, written with the official SDK's
gRPC extension (`dapr.ext.grpc.App` and `@app.subscribe`) as a user would.

    python pubsub_app.py PORT

Every event it is handed is appended to $EVENTS_FILE as one JSON line (the
handler's name, the SubscriptionMessage's fields, the call metadata). What
it answers comes from $ANSWERS (JSON: topic -> answers for its first
deliveries, in turn: SUCCESS, RETRY, DROP, or RAISE for an exception); later
deliveries get SUCCESS."""

import base64
import json
import os
import sys
import threading

os.environ.setdefault("DAPR_SKIP_LEGACY_CHECK", "1")

from dapr.clients.grpc._response import TopicEventResponse
from dapr.ext.grpc import App, Rule, SubscriptionMessage

PUBSUB = os.environ.get("PUBSUB", "bus")
answers: dict[str, list[str]] = json.loads(os.environ.get("ANSWERS") or "{}")
lock = threading.Lock()
app = App()


def record(handler: str, event: SubscriptionMessage) -> TopicEventResponse:
    seen = {
        "handler": handler, "id": event.id(), "source": event.source(), "type": event.type(),
        "spec_version": event.spec_version(), "data_content_type": event.data_content_type(),
        "data_base64": base64.b64encode(event.raw_data()).decode(), "topic": event.topic(),
        "pubsub_name": event.pubsub_name(), "extensions": event.extensions(),
        "metadata": {k: v for k, v in event.metadata().items() if isinstance(v, str)},
    }
    with lock:
        queued = answers.get(event.topic()) or []
        answer = queued.pop(0) if queued else "SUCCESS"
        seen["answer"] = answer
        with open(os.environ["EVENTS_FILE"], "a") as out:
            out.write(json.dumps(seen) + "\n")
    if answer == "RAISE":
        raise RuntimeError("the handler failed on purpose")
    return TopicEventResponse(answer.lower())


@app.subscribe(PUBSUB, "orders", dead_letter_topic="orders-dead")
def orders(event: SubscriptionMessage) -> TopicEventResponse:
    return record("orders", event)


@app.subscribe(PUBSUB, "orders-dead")
def orders_dead(event: SubscriptionMessage) -> TopicEventResponse:
    return record("orders_dead", event)


@app.subscribe(PUBSUB, "raw", metadata={"rawPayload": "true"})
def raw(event: SubscriptionMessage) -> TopicEventResponse:
    return record("raw", event)


# Routing rules: the SDK names each rule's path after its handler.
@app.subscribe(PUBSUB, "routed", rule=Rule('event.type == "order.created"', 1))
def created(event: SubscriptionMessage) -> TopicEventResponse:
    return record("created", event)


@app.subscribe(PUBSUB, "routed", rule=Rule("event.data.priority > 5", 2))
def urgent(event: SubscriptionMessage) -> TopicEventResponse:
    return record("urgent", event)


@app.subscribe(PUBSUB, "batched")
def batched(event: SubscriptionMessage) -> TopicEventResponse:
    return record("batched", event)


# The SDK's decorator has no bulkSubscribe option; the subscription it lists
# is a TopicSubscription, whose bulk_subscribe a user of the plain proto sets.
_bulk = app._servicer._registered_topics_map[f"{PUBSUB}:batched"].subscription
_bulk.bulk_subscribe.enabled = True
_bulk.bulk_subscribe.max_messages_count = 10
_bulk.bulk_subscribe.max_await_duration_ms = 300

if __name__ == "__main__":
    app.run(int(sys.argv[1]), "127.0.0.1")
