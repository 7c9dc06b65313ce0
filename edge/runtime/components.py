"""Turning component specs into running components, in dependency order:
secret stores first, since other components' secretKeyRefs read them."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TypeVar

from edge.components.base import Component, ComponentContext
from edge.components.metadata import parse_duration, parse_metadata
from edge.components.secretstores.base import SecretNotFound, SecretStore
from edge.errors import ConfigError
from edge.runtime import metrics
from edge.runtime.loader import ComponentSpec
from edge.runtime.registry import COMPONENT_TYPES, SUPPORTED_VERSIONS

log = logging.getLogger("edge.runtime.components")

C = TypeVar("C", bound=Component)
_DEFAULT_INIT_TIMEOUT = 5.0


def _sidecar_credential(name: str) -> bool:
    upper = name.upper()
    return upper == "APP_API_TOKEN" or upper.startswith("DAPR_")


def _env_value(spec: ComponentSpec, field: str, variable: str) -> str:
    # As in Dapr, a component may not copy the sidecar's own tokens out of its
    # environment: metadata ends up in places (logs, stores) tokens must not.
    if _sidecar_credential(variable):
        raise spec.error(f"envRef {variable} is not allowed: APP_API_TOKEN and DAPR_* "
                         "variables are the sidecar's own", field=field)
    if variable not in os.environ:
        raise spec.error(f"envRef {variable} is not set in the environment", field=field)
    return os.environ[variable]


class Components:
    """The running components of one sidecar, by name."""

    def __init__(self, ctx: ComponentContext) -> None:
        self.ctx = ctx
        self.by_name: dict[str, Component] = {}

    def of(self, kind: type[C]) -> dict[str, C]:
        return {name: c for name, c in self.by_name.items() if isinstance(c, kind)}

    async def load(self, specs: list[ComponentSpec]) -> None:
        wanted = [s for s in specs if self._in_scope(s)]
        ordered = sorted(wanted, key=lambda s: not s.type.startswith("secretstores."))
        for spec in ordered:
            try:
                component = await self._start(spec)
            except ConfigError as exc:
                metrics.component_init_failed(spec.type)
                if not spec.ignore_errors:
                    raise exc.within(file=spec.file, component=spec.name) from None
                log.warning("component %s skipped (ignoreErrors): %s", spec.name, exc)
                continue
            self.by_name[spec.name] = component
            metrics.component_loaded(spec.type)
            log.info("component loaded: %s (%s/%s)", spec.name, spec.type, component.version)

    def _in_scope(self, spec: ComponentSpec) -> bool:
        if spec.scopes and self.ctx.app_id not in spec.scopes:
            log.info("component %s (%s) skipped: app %s is not in its scopes %s",
                     spec.name, spec.file, self.ctx.app_id, spec.scopes)
            return False
        return True

    async def _start(self, spec: ComponentSpec) -> Component:
        cls = COMPONENT_TYPES.get(spec.type)
        if cls is None:
            raise spec.error(f"unknown component type {spec.type!r}; supported types: "
                             + ", ".join(sorted(COMPONENT_TYPES)), field="spec.type")
        if spec.version not in SUPPORTED_VERSIONS:
            raise spec.error(f"unsupported version {spec.version!r} of {spec.type} (supported: v1)",
                             field="spec.version")
        raw = await self._resolve(spec)
        component = cls(spec.name, parse_metadata(cls.fields, raw), self.ctx)
        timeout = _DEFAULT_INIT_TIMEOUT
        if spec.init_timeout:
            try:
                timeout = parse_duration(spec.init_timeout)
            except ValueError as exc:
                raise spec.error(str(exc), field="spec.initTimeout") from None
            # As in Dapr: zero or less means "not set", not "fail at once".
            if timeout <= 0:
                timeout = _DEFAULT_INIT_TIMEOUT
        try:
            await asyncio.wait_for(component.init(), timeout)
        except ConfigError:
            await component.close()
            raise
        except TimeoutError:
            await component.close()
            raise spec.error(f"initialisation took longer than {timeout:g}s") from None
        except Exception as exc:  # a component's own failure, reported with its place
            await component.close()
            raise spec.error(f"initialisation failed: {exc}") from None
        return component

    async def _resolve(self, spec: ComponentSpec) -> dict[str, str]:
        raw: dict[str, str] = {}
        for item in spec.metadata:
            if item.secret_name is not None:
                raw[item.name] = await self._secret(spec, item.name, item.secret_name,
                                                    item.secret_key or item.secret_name)
            elif item.env_ref is not None:
                raw[item.name] = _env_value(spec, item.name, item.env_ref)
            else:
                raw[item.name] = item.value or ""
        return raw

    async def _secret(self, spec: ComponentSpec, field: str, name: str, key: str) -> str:
        if not spec.secret_store:
            raise spec.error("secretKeyRef needs auth.secretStore naming a secret store",
                             field=field)
        store = self.by_name.get(spec.secret_store)
        if not isinstance(store, SecretStore):
            raise spec.error(f"secret store {spec.secret_store!r} (auth.secretStore) is not loaded",
                             field=field)
        try:
            values = await store.get(name, {})
        except SecretNotFound:
            raise spec.error(f"secret {name!r} not found in {spec.secret_store}",
                             field=field) from None
        if key not in values:
            raise spec.error(f"secret {name!r} in {spec.secret_store} has no key {key!r}",
                             field=field)
        return values[key]

    async def close(self) -> None:
        for name, component in reversed(list(self.by_name.items())):
            try:
                await component.close()
            except Exception:
                log.exception("closing component %s failed", name)
        self.by_name.clear()
