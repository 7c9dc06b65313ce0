"""kill -9 of a process using pubsub.mqtt3: every message whose publish()
returned is delivered after the restart. Duplicates are allowed only here
(a row acknowledged by the broker but not yet deleted is sent again); they
are counted and printed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from tests.pubsub.mqtt.helpers import Inbox, wait_until

SCRIPT = Path(__file__).with_name("publisher.py")
ROOT = Path(__file__).parents[3]


class Publisher:
    """publisher.py as a child process, read line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.acked = -1

    @classmethod
    async def start(cls, url: str, home: Path, topic: str, first: int, count: int,
                    *flags: str) -> Publisher:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(SCRIPT), url, str(home), topic, str(first), str(count), *flags,
            stdout=asyncio.subprocess.PIPE, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        return cls(proc)

    async def until(self, done: str, timeout: float = 30.0) -> None:
        """Read its lines until one starts with `done`."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = (await self.proc.stdout.readline()).decode().strip()
                if not line:
                    raise AssertionError(f"publisher exited ({await self.proc.wait()}) "
                                         f"before {done!r}")
                if line.startswith("acked "):
                    self.acked = int(line.split()[1])
                if line.startswith(done):
                    return

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 10)

    async def finish(self) -> None:
        await asyncio.wait_for(self.proc.wait(), 15)


def report(payloads: list[str], acked: int) -> Counter[int]:
    """The duplicates; fails if any acknowledged message is missing or out of order."""
    numbers = [int(p) for p in payloads]
    missing = sorted(set(range(acked + 1)) - set(numbers))
    assert not missing, f"acknowledged messages lost: {missing[:20]}"
    firsts = list(dict.fromkeys(numbers))
    assert firsts == sorted(firsts), "first deliveries out of publish order"
    duplicates = Counter(n for n, times in Counter(numbers).items() for _ in range(times - 1))
    print(f"{len(numbers)} deliveries of {len(firsts)} messages, "
          f"{sum(duplicates.values())} duplicates: {sorted(duplicates)[:20]}")
    return duplicates


async def test_kill_9_with_a_full_outbox_loses_nothing(broker, pubsubs, tmp_path):
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("crash/outbox", inbox, {})
    await asyncio.to_thread(broker.stop)
    first = await Publisher.start(broker.url, tmp_path / "pub", "crash/outbox", 0, 300,
                                  "--no-drain")
    await first.until("published")
    await first.kill()
    await asyncio.to_thread(broker.start)
    second = await Publisher.start(broker.url, tmp_path / "pub", "crash/outbox", 300, 0)
    await second.until("drained")
    await second.finish()
    payloads = await inbox.wait_for(300, timeout=30)
    assert payloads == [str(n) for n in range(300)]
    assert await inbox.quiet(0.3) == payloads  # nothing was sent before the kill: no duplicates


async def test_kill_9_while_forwarding_loses_nothing(broker, pubsubs, tmp_path):
    subscriber = await pubsubs(broker.url, home="sub", app_id="reader")
    inbox = Inbox()
    await subscriber.subscribe("crash/flow", inbox, {})
    first = await Publisher.start(broker.url, tmp_path / "pub", "crash/flow", 0, 5000,
                                  "--no-drain")
    await first.until("acked 800")
    await first.kill()
    acked = first.acked
    # Restarted, it sends what its outbox still holds before anything new.
    second = await Publisher.start(broker.url, tmp_path / "pub", "crash/flow", 100_000, 5)
    await second.until("drained")
    await second.finish()
    await wait_until(lambda: "100004" in inbox.payloads, timeout=30, what="the new messages")
    payloads = await inbox.quiet(0.3)
    report([p for p in payloads if int(p) < 100_000], acked)
    assert payloads[-5:] == [str(100_000 + n) for n in range(5)]
