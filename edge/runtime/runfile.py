"""Dapr multi-app run files (`dapr.yaml`, read by `edge run -f`).

A file is checked, merged (`common` under each app) and turned into one
AppSpec per app. Field names, defaults and path rules follow the Dapr CLI so
that a file written for `dapr run -f` runs unchanged:

- `appDirPath` and every path in `common` are relative to the run file's folder;
  the other paths of an app are relative to that app's `appDirPath`;
- resources: the app's own paths, else `<appDirPath>/.dapr/resources`, else
  `common`'s, else the edge home's components;
- configuration: the app's file, else `<appDirPath>/.dapr/config.yaml`, else
  `common`'s, else the edge home's config.yaml.

Unlike the Dapr CLI, a key edge does not know is an error naming the file and
the field, so that a typo does not silently change what runs."""

from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RUN_FILE_NAME = "dapr.yaml"
LOG_DESTINATIONS = ("console", "file", "fileAndConsole")
LOG_LEVELS = {"debug": "debug", "info": "info", "warn": "warn", "warning": "warn",
              "error": "error", "fatal": "fatal"}

# Keys allowed in `common` and in each app.
SHARED_KEYS = frozenset({
    "resourcesPath", "resourcesPaths", "configFilePath", "appProtocol", "apiListenAddresses",
    "logLevel", "appMaxConcurrency", "maxBodySize", "daprHTTPMaxRequestSize", "enableApiLogging",
    "env", "appSSL", "daprdLogDestination", "appLogDestination",
    "enableProfiling", "placementHostAddress", "schedulerHostAddress", "readBufferSize",
    "daprHTTPReadBufferSize", "enableAppHealthCheck", "appHealthCheckPath",
    "appHealthProbeInterval", "appHealthProbeTimeout", "appHealthThreshold", "runtimePath",
    "daprPath",
})
# Keys allowed in an app only.
APP_KEYS = SHARED_KEYS | {
    "appDirPath", "appID", "appChannelAddress", "appPort", "daprHTTPPort", "daprGRPCPort",
    "daprInternalGRPCPort", "command", "metricsPort", "profilePort", "unixDomainSocket",
    "containerImage", "containerImagePullPolicy", "createService",
}
# Accepted so that Dapr's files load, but they change nothing in edge: say so once.
NO_EFFECT_KEYS = frozenset({
    "enableProfiling", "profilePort", "placementHostAddress",
    "schedulerHostAddress", "readBufferSize", "daprHTTPReadBufferSize", "enableAppHealthCheck",
    "appHealthCheckPath", "appHealthProbeInterval", "appHealthProbeTimeout",
    "appHealthThreshold", "runtimePath", "daprPath",
})
# Only for `dapr run -f -k` (Kubernetes); a local run ignores them, as Dapr's does.
KUBERNETES_KEYS = frozenset({"containerImage", "containerImagePullPolicy", "createService"})


@dataclass
class AppSpec:
    """One app and its sidecar as `edge run` starts them (from flags or a run file)."""

    app_id: str
    command: list[str] = field(default_factory=list)
    app_dir: Path | None = None  # working folder of app and sidecar; None: the launcher's
    app_port: int | None = None
    app_protocol: str = "http"
    app_channel_address: str = "127.0.0.1"
    dapr_http_port: int | None = None  # None: a free port
    dapr_grpc_port: int | None = None  # None: a free port
    internal_port: int = 0  # 0: the sidecar picks one
    listen_addresses: str = "127.0.0.1"
    resources_paths: list[str] = field(default_factory=list)  # empty: the edge home's
    config: str | None = None  # None: the edge home's, if any
    log_level: str = "info"
    log_as_json: bool = False
    enable_api_logging: bool = False
    max_request_size_mb: int = 4
    graceful_shutdown_seconds: float = 5.0
    app_max_concurrency: int = -1
    enable_metrics: bool = True
    metrics_port: int | None = None  # None: a free port
    env: dict[str, str] = field(default_factory=dict)
    app_log: str = "console"
    sidecar_log: str = "console"


@dataclass
class RunFile:
    path: Path
    name: str
    apps: list[AppSpec]
    notes: list[str] = field(default_factory=list)


class RunFileError(Exception):
    def __init__(self, file: Path, message: str, where: str | None = None) -> None:
        super().__init__(f"{file}: {where}: {message}" if where else f"{file}: {message}")


def find_run_file(given: str) -> Path:
    """The run file named on the command line: a file, or a folder holding dapr.yaml."""
    path = Path(given).expanduser().absolute()
    if path.is_dir():
        path = path / RUN_FILE_NAME
    if not path.is_file():
        raise RunFileError(path, "no such run file")
    return path


def load_run_file(given: str) -> RunFile:
    path = find_run_file(given)
    doc = _read(path)
    return _Parser(path).parse(doc)


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunFileError(path, f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RunFileError(path, f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise RunFileError(path, "a run file is a mapping with version, common and apps")
    return doc


class _Parser:
    """Checks one run file; every error names the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent
        self.notes: list[str] = []
        self._noted: set[str] = set()

    def error(self, message: str, where: str | None = None) -> RunFileError:
        return RunFileError(self.path, message, where)

    def parse(self, doc: dict[str, Any]) -> RunFile:
        self._check_keys(doc, {"version", "name", "common", "apps"}, "")
        self._version(doc.get("version"))
        common = self._mapping(doc.get("common"), "common")
        self._check_keys(common, SHARED_KEYS, "common")
        apps = doc.get("apps")
        if not isinstance(apps, list) or not apps:
            raise self.error("no apps to run: `apps` must be a non-empty list", "apps")
        specs = [self._app(self._mapping(app, f"apps[{i}]"), common, f"apps[{i}]")
                 for i, app in enumerate(apps)]
        self._check_unique_ids(specs)
        name = doc.get("name")
        return RunFile(self.path, str(name) if name is not None else "", specs, self.notes)

    def _version(self, version: Any) -> None:
        if version is None:
            raise self.error("required field not found (use `version: 1`)", "version")
        if version != 1:
            raise self.error(f"unsupported version {version!r} (edge reads version 1)", "version")

    def _mapping(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error("must be a mapping", where)
        return value

    def _check_keys(self, section: dict[str, Any], allowed: frozenset[str] | set[str],
                    where: str) -> None:
        for key in section:
            path = f"{where}.{key}" if where else str(key)
            if key in APP_KEYS and key not in allowed:
                raise self.error("only allowed in apps, not in common", path)
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                raise self.error("unknown field" + (f" (did you mean {close[0]}?)" if close
                                                    else ""), path)
            if key in NO_EFFECT_KEYS and key not in self._noted:
                self._noted.add(key)
                self.notes.append(f"{self.path}: {path} has no effect in edge; ignored")

    def _app(self, app: dict[str, Any], common: dict[str, Any], where: str) -> AppSpec:
        self._check_keys(app, APP_KEYS, where)
        raw_dir = self.as_text(app.get("appDirPath"), f"{where}.appDirPath")
        if not raw_dir:
            raise self.error("required field not found", f"{where}.appDirPath")
        app_dir = self._path(self.base, raw_dir, f"{where}.appDirPath")
        if not app_dir.is_dir():
            raise self.error(f"not a folder: {raw_dir}", f"{where}.appDirPath")
        app_id = self.as_text(app.get("appID"), f"{where}.appID") or app_dir.name
        if "." in app_id or not app_id:
            raise self.error(f"invalid app id {app_id!r}: it must be non-empty, without dots",
                             f"{where}.appID")
        self._refuse_socket(app, where)
        merged = _Merged(self, app, common, where)
        return AppSpec(
            app_id=app_id,
            command=self._command(app.get("command"), f"{where}.command"),
            app_dir=app_dir,
            app_port=self._port(app.get("appPort"), f"{where}.appPort"),
            app_protocol=merged.protocol(),
            app_channel_address=self.as_text(app.get("appChannelAddress"),
                                             f"{where}.appChannelAddress") or "127.0.0.1",
            dapr_http_port=self._port(app.get("daprHTTPPort"), f"{where}.daprHTTPPort"),
            dapr_grpc_port=self._port(app.get("daprGRPCPort"), f"{where}.daprGRPCPort"),
            internal_port=self._port(app.get("daprInternalGRPCPort"),
                                     f"{where}.daprInternalGRPCPort") or 0,
            metrics_port=self._port(app.get("metricsPort"), f"{where}.metricsPort"),
            listen_addresses=merged.text("apiListenAddresses") or "127.0.0.1",
            resources_paths=[str(p) for p in self._resources(app, common, app_dir, where)],
            config=self._config(app, common, app_dir, where),
            log_level=merged.log_level(),
            enable_api_logging=merged.flag("enableApiLogging"),
            max_request_size_mb=merged.body_size_mb(),
            app_max_concurrency=merged.integer("appMaxConcurrency", -1),
            env=merged.env(),
            app_log=merged.destination("appLogDestination"),
            sidecar_log=merged.destination("daprdLogDestination"),
        )

    def _refuse_socket(self, app: dict[str, Any], where: str) -> None:
        # A sidecar reached over a Unix socket needs an app built for it: refuse
        # rather than start something the app cannot talk to.
        if app.get("unixDomainSocket"):
            raise self.error("Unix domain sockets are not supported by edge; remove it",
                             f"{where}.unixDomainSocket")

    def _check_unique_ids(self, specs: list[AppSpec]) -> None:
        seen: set[str] = set()
        for index, spec in enumerate(specs):
            if spec.app_id in seen:
                raise self.error(f"app id {spec.app_id!r} is used twice", f"apps[{index}].appID")
            seen.add(spec.app_id)

    # Values -----------------------------------------------------------------

    def as_text(self, value: Any, where: str) -> str:
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            raise self.error("must be a string", where)
        return _scalar_text(value)

    def as_int(self, value: Any, where: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not re.fullmatch(r"-?\d+", str(value).strip()):
            raise self.error(f"must be a whole number, got {value!r}", where)
        return int(str(value).strip())

    def _port(self, value: Any, where: str) -> int | None:
        port = self.as_int(value, where)
        if port is not None and port > 65535:
            raise self.error(f"{port} is not a port number", where)
        # Dapr treats 0 and negative ports as "not given".
        return port if port is not None and port > 0 else None

    def as_bool(self, value: Any, where: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise self.error(f"must be true or false, got {value!r}", where)
        return text == "true"

    def _command(self, value: Any, where: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
            raise self.error('must be a list, for example ["python3", "app.py"]', where)
        return [_scalar_text(v) for v in value]

    def _path(self, base: Path, raw: str, where: str) -> Path:
        path = Path(raw).expanduser()
        path = Path(os.path.normpath(path if path.is_absolute() else base / path))
        if not path.exists():
            raise self.error(f"does not exist: {raw} (looked for {path})", where)
        return path

    def _paths(self, section: dict[str, Any], base: Path, where: str) -> list[Path]:
        """resourcesPaths and the older resourcesPath of one section, resolved."""
        raw = section.get("resourcesPaths")
        if raw is not None and (not isinstance(raw, list)
                                or any(isinstance(v, (dict, list)) for v in raw)):
            raise self.error("must be a list of folders", f"{where}.resourcesPaths")
        found = [self._path(base, _scalar_text(p), f"{where}.resourcesPaths[{i}]")
                 for i, p in enumerate(raw or [])]
        single = self.as_text(section.get("resourcesPath"), f"{where}.resourcesPath")
        if single:
            found.append(self._path(base, single, f"{where}.resourcesPath"))
        return found

    def _resources(self, app: dict[str, Any], common: dict[str, Any], app_dir: Path,
                   where: str) -> list[Path]:
        own = self._paths(app, app_dir, where)
        if own:
            return own
        local = app_dir / ".dapr" / "resources"
        if local.is_dir():
            return [local]
        return self._paths(common, self.base, "common")

    def _config(self, app: dict[str, Any], common: dict[str, Any], app_dir: Path,
                where: str) -> str | None:
        own = self.as_text(app.get("configFilePath"), f"{where}.configFilePath")
        if own:
            return str(self._path(app_dir, own, f"{where}.configFilePath"))
        local = app_dir / ".dapr" / "config.yaml"
        if local.is_file():
            return str(local)
        shared = self.as_text(common.get("configFilePath"), "common.configFilePath")
        return str(self._path(self.base, shared, "common.configFilePath")) if shared else None


class _Merged:
    """An app's value for a key it shares with `common`: the app's own if
    given, else common's (Dapr merges the same way)."""

    def __init__(self, parser: _Parser, app: dict[str, Any], common: dict[str, Any],
                 where: str) -> None:
        self.parser = parser
        self.app = app
        self.common = common
        self.where = where

    def _get(self, key: str) -> tuple[Any, str]:
        if self.app.get(key) is not None:
            return self.app[key], f"{self.where}.{key}"
        return self.common.get(key), f"common.{key}"

    def text(self, key: str) -> str:
        value, where = self._get(key)
        return self.parser.as_text(value, where)

    def flag(self, key: str) -> bool:
        value, where = self._get(key)
        return bool(self.parser.as_bool(value, where))

    def integer(self, key: str, default: int) -> int:
        value, where = self._get(key)
        number = self.parser.as_int(value, where)
        return default if number is None else number

    def protocol(self) -> str:
        value, where = self._get("appProtocol")
        protocol = (self.parser.as_text(value, where) or "http").lower()
        if protocol not in ("http", "grpc"):
            raise self.parser.error(f"app protocol {protocol!r} is not supported "
                                    "(http or grpc)", where)
        ssl, ssl_where = self._get("appSSL")
        if self.parser.as_bool(ssl, ssl_where):
            raise self.parser.error("https to the app is not supported", ssl_where)
        return protocol

    def log_level(self) -> str:
        value, where = self._get("logLevel")
        level = (self.parser.as_text(value, where) or "info").lower()
        if level not in LOG_LEVELS:
            raise self.parser.error(f"unknown log level {level!r} "
                                    "(debug, info, warn, error, fatal)", where)
        return LOG_LEVELS[level]

    def destination(self, key: str) -> str:
        value, where = self._get(key)
        # Both default to the console, unlike Dapr (whose sidecar logs go to a
        # file): on a gateway's terminal one stream is what people read.
        text = self.parser.as_text(value, where) or "console"
        if text not in LOG_DESTINATIONS:
            raise self.parser.error(f"must be one of {', '.join(LOG_DESTINATIONS)}", where)
        return text

    def body_size_mb(self) -> int:
        value, where = self._get("maxBodySize")
        if value is not None:
            return _quantity_mb(self.parser, value, where)
        mb = self.integer("daprHTTPMaxRequestSize", 4)
        if mb < 1:
            raise self.parser.error("must be at least 1 (MB)", where)
        return mb

    def env(self) -> dict[str, str]:
        merged = self._env_section(self.common.get("env"), "common.env")
        merged.update(self._env_section(self.app.get("env"), f"{self.where}.env"))
        return merged

    def _env_section(self, value: Any, where: str) -> dict[str, str]:
        if value is None:
            return {}
        # Dapr's own docs show the list form (`- DEBUG: true`); accept both.
        items = value if isinstance(value, list) else [value]
        env: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict):
                raise self.parser.error("must be a mapping of NAME: value", where)
            for name, raw in item.items():
                if isinstance(raw, (dict, list)):
                    raise self.parser.error("must be a plain value", f"{where}.{name}")
                env[str(name)] = _scalar_text(raw)
        return env


_UNITS = {"": 1, "k": 1000, "K": 1000, "Ki": 1024, "M": 1000**2, "Mi": 1024**2,
          "G": 1000**3, "Gi": 1024**3}


def _quantity_mb(parser: _Parser, value: Any, where: str) -> int:
    """A Kubernetes-style quantity (`4Mi`, `512Ki`, `10M`) as whole MB, rounded up."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKMG]i?)?\s*", str(value))
    if match is None or isinstance(value, bool):
        raise parser.error(f"not a size, got {value!r} (for example 4Mi)", where)
    size = float(match.group(1)) * _UNITS[match.group(2) or ""]
    if size <= 0:
        raise parser.error("must be larger than 0", where)
    return max(1, math.ceil(size / 1024**2))


def _scalar_text(value: Any) -> str:
    # YAML turns `true` and `3000` into bool and int; apps get them as Dapr's CLI writes them.
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
