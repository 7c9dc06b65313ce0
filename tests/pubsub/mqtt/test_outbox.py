"""The outbox on its own (it is meant for other senders too, an MQTT binding
for one): order, the in-flight window, what is on disk, slots."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from edge.components.pubsub.outbox import Forwarder, Limits, NotReady, Outbox, OutboxFull, Row

LIMITS = Limits(max_messages=1000, max_bytes=1_000_000)


class Sender:
    """Takes rows like a broker client: acknowledges them when told to."""

    def __init__(self) -> None:
        self.sent: list[Row] = []
        self.pending: list[asyncio.Future[None]] = []
        self.most_in_flight = 0
        self.refuse = False

    def __call__(self, row: Row) -> asyncio.Future[None]:
        if self.refuse:
            raise NotReady
        self.sent.append(row)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append(acked)
        self.most_in_flight = max(self.most_in_flight,
                                  sum(not f.done() for f in self.pending))
        return acked

    def ack_all(self) -> None:
        for acked in self.pending:
            if not acked.done():
                acked.set_result(None)


def rows_on_disk(outbox: Outbox) -> int:
    with sqlite3.connect(outbox.path) as db:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])


async def test_rows_go_out_in_order_within_the_window_and_leave_the_disk(tmp_path):
    outbox = await Outbox.open_free_slot(tmp_path / "o.db", LIMITS)
    sender, ready = Sender(), asyncio.Event()
    ready.set()
    forwarder = Forwarder(outbox, sender, window=5, ready=ready)
    forwarder.start()
    await asyncio.gather(*(outbox.put("t", str(n).encode()) for n in range(40)))
    for _ in range(200):
        sender.ack_all()
        await asyncio.sleep(0.005)
        if outbox.depth == 0:
            break
    assert [row.payload for row in sender.sent] == [str(n).encode() for n in range(40)]
    assert sender.most_in_flight == 5
    await forwarder.stop(1.0)
    await outbox.close()
    assert rows_on_disk(outbox) == 0


async def test_unacknowledged_rows_are_sent_again_after_reopening(tmp_path):
    first = await Outbox.open_free_slot(tmp_path / "o.db", LIMITS)
    for n in range(3):
        await first.put("t", str(n).encode(), {"retain": True} if n == 1 else None)
    assert await first.take(2) != []  # handed out, never acknowledged
    await first.close()
    second = await Outbox.open_free_slot(tmp_path / "o.db", LIMITS)
    assert second.depth == 3
    rows = await second.take(10)
    assert [(r.payload, r.meta) for r in rows] == [
        (b"0", {}), (b"1", {"retain": True}), (b"2", {})]
    await second.close()


async def test_a_refused_row_and_those_after_it_are_taken_again(tmp_path):
    outbox = await Outbox.open_free_slot(tmp_path / "o.db", LIMITS)
    sender, ready = Sender(), asyncio.Event()
    sender.refuse = True
    ready.set()
    forwarder = Forwarder(outbox, sender, window=10, ready=ready)
    forwarder.start()
    for n in range(4):
        await outbox.put("t", str(n).encode())
    await asyncio.sleep(0.1)
    sender.refuse = False
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(sender.sent) == 4:
            break
    assert [row.payload for row in sender.sent] == [b"0", b"1", b"2", b"3"]
    await forwarder.stop(0)
    await outbox.close()


async def test_limits_and_slots(tmp_path):
    small = Limits(max_messages=2, max_bytes=10)
    first = await Outbox.open_free_slot(tmp_path / "o.db", small)
    second = await Outbox.open_free_slot(tmp_path / "o.db", small)
    assert (first.path.name, second.path.name) == ("o.db", "o-2.db")
    await first.put("t", b"1")
    with pytest.raises(OutboxFull, match="outboxMaxBytes"):
        await first.put("t", b"123456789")
    await first.put("t", b"2")
    with pytest.raises(OutboxFull, match="outboxMaxMessages"):
        await first.put("t", b"3")
    await first.close()
    await second.close()
    # A slot is free again once its holder closed (or died: the lock goes with it).
    again = await Outbox.open_free_slot(tmp_path / "o.db", small)
    assert again.path.name == "o.db" and again.depth == 2
    await again.close()
