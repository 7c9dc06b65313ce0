"""Trace context parsing, sampling and the export queue, in-process."""

from __future__ import annotations

import asyncio
import logging

import pytest

from edge.runtime import tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


@pytest.mark.parametrize("value", [
    "", "garbage", f"00-{TRACE_ID}-{SPAN_ID}", f"ff-{TRACE_ID}-{SPAN_ID}-01",
    f"00-{'0' * 32}-{SPAN_ID}-01", f"00-{TRACE_ID}-{'0' * 16}-01",
    f"00-{TRACE_ID.upper()}-{SPAN_ID}-01", f"00-{TRACE_ID}-{SPAN_ID}-01-extra", None,
])
def test_invalid_traceparent_is_refused(value: object) -> None:
    assert tracing.parse_traceparent(value) is None


def test_traceparent_round_trip_and_later_versions() -> None:
    context = tracing.parse_traceparent(f" 00-{TRACE_ID}-{SPAN_ID}-01 ", "a=1")
    assert context == tracing.SpanContext(TRACE_ID, SPAN_ID, True, "a=1")
    assert context.traceparent() == f"00-{TRACE_ID}-{SPAN_ID}-01"
    later = tracing.parse_traceparent(f"01-{TRACE_ID}-{SPAN_ID}-00-more")
    assert later is not None and not later.sampled
    assert tracing.parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-01", "x" * 600).tracestate == ""


def test_sampling_follows_the_parent_and_the_rate() -> None:
    never = tracing.Tracer("app", 0.0, None, False)
    always = tracing.Tracer("app", 1.0, None, False)
    parent = tracing.SpanContext(TRACE_ID, SPAN_ID, True, "v=1")
    child = never.start("x", tracing.SERVER, parent)
    assert child.context.sampled and child.parent_id == SPAN_ID
    assert child.context.trace_id == TRACE_ID and child.context.tracestate == "v=1"
    assert not always.start("x", tracing.SERVER,
                            tracing.SpanContext(TRACE_ID, SPAN_ID, False)).context.sampled
    assert always.start("x", tracing.SERVER).context.sampled
    assert not never.start("x", tracing.SERVER).context.sampled


def test_full_queue_drops_instead_of_growing() -> None:
    exporter = tracing.Exporter("http://127.0.0.1:9/api/v2/spans", limit=3)
    for _ in range(5):
        exporter.add({"id": "x"})
    assert len(exporter._queue) == 3


def test_stdout_logs_sampled_spans(caplog: pytest.LogCaptureFixture) -> None:
    tracer = tracing.Tracer("app", 1.0, None, True)
    with caplog.at_level(logging.INFO, logger="edge.tracing.spans"):
        span = tracer.start("GET /v1.0/metadata", tracing.SERVER)
        span.tag(dapr__status_code=200)
        tracer.finish(span)
    assert span.context.trace_id in caplog.text
    assert '"dapr.status_code":"200"' in caplog.text


def test_export_to_a_dead_collector_returns_quickly() -> None:
    async def scenario() -> None:
        exporter = tracing.Exporter("http://127.0.0.1:9/api/v2/spans")
        exporter.start()
        exporter.add({"id": "x"})
        await asyncio.wait_for(exporter.close(), 5)
        assert not exporter._queue

    asyncio.run(scenario())
