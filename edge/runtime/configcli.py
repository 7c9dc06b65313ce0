"""`edge config set|get|list`: read and change a configuration store's items
directly in its SQLite table or YAML file, found through the component file in
the resources path. The sidecar need not run; when it does, it notices the
change (it watches the file) and pushes it to subscribed apps."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import yaml

from edge.components.configuration.base import ConfigurationItem
from edge.components.configuration.local_file import (
    FileConfigurationStore,
    FileFormatError,
    load_items,
    write_items_atomically,
)
from edge.components.configuration.sqlite import (
    SQLiteConfigurationStore,
    item_from_row,
    schema,
    sqlite_target,
    table_name,
)
from edge.components.metadata import parse_metadata
from edge.errors import ConfigError
from edge.runtime import home
from edge.runtime.loader import ComponentSpec, load_resources

STORE_TYPES = (SQLiteConfigurationStore, FileConfigurationStore)


class CliError(Exception):
    """What the user is told on stderr, before exit status 1."""


def add_config_parser(sub: Any) -> None:
    config = sub.add_parser("config", help="set, get or list the items of a configuration store")
    actions = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--resources-path", "--components-path", "-d", action="append",
                        dest="resources_paths", metavar="PATH",
                        help="folder or file of resource YAML; repeatable "
                        "(default $EDGE_HOME/components)")
    set_ = actions.add_parser("set", parents=[common], help="set one item; its version goes up")
    set_.add_argument("store")
    set_.add_argument("key")
    set_.add_argument("value")
    set_.add_argument("--metadata", "-m", action="append", default=[], metavar="K=V",
                      help="item metadata; repeatable (replaces the item's metadata)")
    set_.add_argument("--version", dest="item_version", metavar="VERSION",
                      help="the new version (default: the current one plus 1)")
    get = actions.add_parser("get", parents=[common], help="print items as JSON, as the API "
                             "returns them")
    get.add_argument("store")
    get.add_argument("keys", nargs="+", metavar="KEY")
    list_ = actions.add_parser("list", parents=[common], help="print every item as JSON")
    list_.add_argument("store")


def run_config(args: argparse.Namespace) -> int:
    try:
        store = _open(args.store, args.resources_paths)
        if args.config_command == "set":
            metadata = _pairs(args.metadata)
            version = store.set(args.key, args.value, metadata, args.item_version)
            print(f"{args.key} set in {args.store} (version {version}; {store.where})")
            return 0
        items = store.read()
        if args.config_command == "list":
            _print(items)
            return 0
        found = {k: items[k] for k in args.keys if k in items}
        _print(found)
        missing = [k for k in args.keys if k not in items]
        if missing:
            print(f"not in {args.store} ({store.where}): {', '.join(missing)}", file=sys.stderr)
            return 1
        return 0
    except (CliError, ConfigError) as exc:
        print(f"edge config: {exc}", file=sys.stderr)
        return 1


def _print(items: dict[str, ConfigurationItem]) -> None:
    print(json.dumps({k: items[k].to_json() for k in sorted(items)}, indent=2,
                     ensure_ascii=False))


def _pairs(raw: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for entry in raw:
        key, sep, value = entry.partition("=")
        if not sep or not key:
            raise CliError(f"--metadata {entry!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def next_version(current: str | None, given: str | None) -> str:
    if given is not None:
        return given
    if not current:
        return "1"
    if current.isdigit():
        return str(int(current) + 1)
    raise CliError(f"the current version {current!r} is not a whole number, so it cannot be "
                   "counted up; give the new one with --version")


def _find(name: str, paths: list[str] | None) -> ComponentSpec:
    if not paths:
        folder = home.components_dir()
        if not folder.is_dir():
            raise CliError(f"no resources path given and {folder} does not exist "
                           "(use --resources-path, or run `edge init`)")
        paths = [str(folder)]
    resources = load_resources(paths)
    kinds = {cls.type_name for cls in STORE_TYPES}
    for spec in resources.components:
        if spec.name != name:
            continue
        if spec.type not in kinds:
            raise CliError(f"component {name!r} ({spec.file}) is a {spec.type}, not a "
                           f"configuration store ({' or '.join(sorted(kinds))})")
        return spec
    stores = sorted(s.name for s in resources.components if s.type in kinds)
    there = f"configuration stores there: {', '.join(stores)}" if stores else \
        "there is no configuration store there"
    raise CliError(f"no component named {name!r} in {', '.join(paths)}; {there}")


def _open(name: str, paths: list[str] | None) -> SqliteItems | FileItems:
    spec = _find(name, paths)
    raw: dict[str, str] = {}
    for item in spec.metadata:
        if item.secret_name is not None:
            raise spec.error("edge config cannot resolve secretKeyRef; give the value or an "
                             "envRef", field=item.name)
        if item.env_ref is not None:
            if item.env_ref not in os.environ:
                raise spec.error(f"envRef {item.env_ref} is not set in the environment",
                                 field=item.name)
            raw[item.name] = os.environ[item.env_ref]
        else:
            raw[item.name] = item.value or ""
    try:
        if spec.type == SQLiteConfigurationStore.type_name:
            meta = parse_metadata(SQLiteConfigurationStore.fields, raw)
            return SqliteItems(meta["connectionString"], table_name(meta))
        meta = parse_metadata(FileConfigurationStore.fields, raw)
        return FileItems(Path(str(meta["path"])).expanduser())
    except ConfigError as exc:
        raise exc.within(file=spec.file, component=spec.name) from None


class SqliteItems:
    def __init__(self, connection: str, table: str) -> None:
        self.target, self.uri = sqlite_target(connection)
        self.table = table
        self.where = f"table {table} of {self.target}"

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.target, uri=self.uri, isolation_level=None, timeout=5.0)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute(schema(self.table))
        except sqlite3.Error as exc:
            raise CliError(f"cannot open {self.target}: {exc}") from None
        return db

    def read(self) -> dict[str, ConfigurationItem]:
        db = self._connect()
        try:
            rows = db.execute(f"SELECT key, value, version, metadata FROM {self.table}").fetchall()
        finally:
            db.close()
        return {str(r[0]): item_from_row(str(r[0]), *r[1:]) for r in rows}

    def set(self, key: str, value: str, metadata: dict[str, str], version: str | None) -> str:
        db = self._connect()
        try:
            # IMMEDIATE: two writers counting up the same version take turns.
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(f"SELECT version FROM {self.table} WHERE key = ?",
                             (key,)).fetchone()
            new = next_version(None if row is None or row[0] is None else str(row[0]), version)
            db.execute(f"INSERT INTO {self.table} (key, value, version, metadata)"
                       " VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
                       " value = excluded.value, version = excluded.version,"
                       " metadata = excluded.metadata",
                       (key, value, new, json.dumps(metadata)))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise CliError(f"cannot write {self.where}: {exc}") from None
        finally:
            # Closing without COMMIT rolls back whatever a failure left open.
            db.close()
        return new


class FileItems:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def _document(self) -> tuple[dict[str, Any], dict[str, ConfigurationItem]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}, {}
        except OSError as exc:
            raise CliError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            items = load_items(data)
        except FileFormatError as exc:
            raise CliError(f"{self.path}: {exc}") from None
        # The parsed document is kept so that untouched entries keep their form.
        return yaml.safe_load(data) or {}, items

    def read(self) -> dict[str, ConfigurationItem]:
        return self._document()[1]

    def set(self, key: str, value: str, metadata: dict[str, str], version: str | None) -> str:
        document, items = self._document()
        current = items.get(key)
        new = next_version(current.version if current else None, version)
        entry: dict[str, Any] = {"value": value, "version": new}
        if metadata:
            entry["metadata"] = metadata
        # Replaced in place, so the key keeps its position in the file.
        for existing in list(document):
            if str(existing) == key and existing != key:
                del document[existing]
        document[key] = entry
        try:
            write_items_atomically(self.path, document)
        except OSError as exc:
            raise CliError(f"cannot write {self.path}: {exc.strerror}") from None
        return new
