"""bindings.http: an output binding that calls an HTTP endpoint.

The operation is the method (`create` is a POST). Metadata `path` is
appended to `url`; other metadata whose name starts with a capital letter is
sent as a request header. The answer's body is returned, with `statusCode`,
`status` and the response headers as metadata. A status outside 2xx is an
error unless `errorIfNot2XX` is false, as in Dapr."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

import aiohttp

from edge.components.base import ComponentContext
from edge.components.bindings.base import COMMON_FIELDS, BindingError, InvokeResponse, OutputBinding
from edge.components.metadata import Field
from edge.errors import ConfigError

_METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")
_DEFAULT_TYPE = "application/json; charset=utf-8"


def _status_text(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


class HttpBinding(OutputBinding):
    type_name: ClassVar[str] = "bindings.http"
    description: ClassVar[str] = ("Output binding that sends HTTP requests to a base URL: "
                                  "operations get, head, post, put, patch, delete, options, "
                                  "trace and create (a post).")
    fields: ClassVar[tuple[Field, ...]] = (
        Field("url", required=True, description="base URL; the `path` metadata of a request "
              "is appended to it"),
        Field("responseTimeout", "duration", default=0.0,
              description="longest wait for an answer (0: no limit)"),
        Field("errorIfNot2XX", "bool", default=True,
              description="answer an error when the endpoint's status is not 2xx"),
        *COMMON_FIELDS,
    )

    def __init__(self, name: str, meta: dict[str, Any], ctx: ComponentContext) -> None:
        super().__init__(name, meta, ctx)
        self._session: aiohttp.ClientSession | None = None

    async def init(self) -> None:
        url = str(self.meta["url"])
        if not url.startswith(("http://", "https://")):
            raise ConfigError("must be an http:// or https:// URL", field="url")
        timeout = float(self.meta.get("responseTimeout") or 0) or None
        # One session for every call, so connections are kept alive.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))

    def operations(self) -> list[str]:
        return [*_METHODS, "create"]

    async def invoke(self, operation: str, data: bytes,
                     metadata: dict[str, str]) -> InvokeResponse:
        assert self._session is not None, "init() first"
        method = "POST" if operation == "create" else operation.upper()
        url = self._url(metadata.get("path", ""))
        headers = {"Content-Type": _DEFAULT_TYPE}
        headers.update({k: v for k, v in metadata.items() if k[:1].isupper()})
        try:
            async with self._session.request(method, url, data=data or None,
                                             headers=headers) as resp:
                body = await resp.read()
                return self._answer(resp, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise BindingError(f"error invoking {method} {url}: "
                               f"{type(exc).__name__}: {exc}") from None

    def _url(self, path: str) -> str:
        base = str(self.meta["url"])
        return base.rstrip("/") + "/" + path.lstrip("/") if path else base

    def _answer(self, resp: aiohttp.ClientResponse, body: bytes) -> InvokeResponse:
        if self.meta.get("errorIfNot2XX", True) and not 200 <= resp.status < 300:
            raise BindingError(f"received status code {resp.status}")
        meta = {"statusCode": str(resp.status), "status": _status_text(resp.status)}
        for key in resp.headers:
            meta[key] = ", ".join(resp.headers.getall(key))
        return InvokeResponse(body, meta)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
