"""HTTP channels: to the local app (the app channel) and to other sidecars
(the internal channel). Both keep connections alive and pass bodies through
once, without re-encoding."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from edge.runtime import metrics

log = logging.getLogger("edge.runtime.channel")

# Headers that describe one hop, not the message; never forwarded.
HOP_HEADERS = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "host", "content-length", "dapr-api-token",
    "edge-internal-token",
})


def forwardable(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_HEADERS)


@dataclass(slots=True)
class Reply:
    status: int
    headers: CIMultiDict[str]
    body: bytes


class ChannelError(Exception):
    """The far end could not be reached or did not answer in time."""

    def __init__(self, message: str, timeout: bool = False, unsent: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout
        # True when no connection was made, so the request surely was not delivered.
        self.unsent = unsent


def unsent(exc: BaseException) -> bool:
    """A failure to reach the far end at all: the request was surely not delivered."""
    return isinstance(exc, ChannelError) and exc.unsent


class HttpChannel:
    """A pooled HTTP client to one kind of peer."""

    def __init__(self, max_concurrency: int = 0, connect_timeout: float = 5.0,
                 metered: bool = False) -> None:
        self._limit = max_concurrency if max_concurrency > 0 else 0
        # The app channel is measured as Dapr's dapr_http_client_* metrics.
        self._metered = metered
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        # Dapr's --app-max-concurrency: calls beyond it wait their turn.
        self._gate = asyncio.Semaphore(self._limit) if self._limit else None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
                auto_decompress=False,
                # Send exactly the caller's headers: none of aiohttp's defaults.
                skip_auto_headers=("User-Agent", "Content-Type", "Accept", "Accept-Encoding"),
            )
        return self._session

    async def request(self, method: str, url: str, headers: CIMultiDict[str], body: bytes,
                      timeout: float | None = None) -> Reply:
        if self._gate is None:
            return await self._send(method, url, headers, body, timeout)
        async with self._gate:
            return await self._send(method, url, headers, body, timeout)

    async def _send(self, method: str, url: str, headers: CIMultiDict[str], body: bytes,
                    timeout: float | None) -> Reply:
        start = time.perf_counter()
        try:
            async with self.session.request(
                method, url, headers=headers, data=body or None, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=self._connect_timeout),
            ) as resp:
                data = await resp.read()
                if self._metered:
                    metrics.app_call(method, resp.status, len(body), len(data), start)
                return Reply(resp.status, forwardable(resp.headers), data)
        except TimeoutError:
            raise ChannelError(f"no answer from {url} in time", timeout=True) from None
        except aiohttp.ClientConnectorError as exc:
            raise ChannelError(f"cannot connect: {exc}", unsent=True) from None
        except aiohttp.ClientError as exc:
            raise ChannelError(f"{exc.__class__.__name__}: {exc}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def wait_for_port(host: str, port: int, stop: asyncio.Event) -> bool:
    """Wait until something listens on host:port; False when stopped first."""
    while not stop.is_set():
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            # asyncio.timeout rather than wait_for: on 3.11 wait_for can swallow
            # a cancellation that arrives as the event is set.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await stop.wait()
            continue
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return True
    return False
