"""A tiny process that uses pubsub.mqtt3 the way a sidecar does, for the
kill -9 tests: publishes `count` numbered messages one by one, printing
`acked N` as each publish() returns, then waits until its outbox is empty
(printing `drained`) unless told to stay with --no-drain.

    python publisher.py URL HOME TOPIC FIRST COUNT [--no-drain]
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from edge.components.base import ComponentContext
from edge.components.metadata import parse_metadata
from edge.components.pubsub.base import Message
from edge.components.pubsub.mqtt3 import MqttPubSub


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def drained(pubsub: MqttPubSub) -> None:
    for _ in range(1500):  # 30 s at most
        if not pubsub.status()["outboxDepth"]:
            return
        await asyncio.sleep(0.02)
    raise SystemExit("outbox did not drain in 30s")


async def main(url: str, home: str, topic: str, first: int, count: int, drain: bool) -> None:
    ctx = ComponentContext(app_id="publisher", namespace="", home=Path(home))
    pubsub = MqttPubSub("mqtt", parse_metadata(MqttPubSub.fields, {"url": url}), ctx)
    await pubsub.init()
    say(f"started depth {pubsub.status()['outboxDepth']}")
    for n in range(first, first + count):
        await pubsub.publish(Message(topic, str(n).encode()))
        say(f"acked {n}")
    if drain:
        await drained(pubsub)
    say("drained" if drain else "published")
    if not drain:
        await asyncio.sleep(3600)  # until killed
    await pubsub.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], int(args[3]), int(args[4]),
                     "--no-drain" not in args))
