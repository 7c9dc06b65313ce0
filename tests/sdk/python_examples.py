"""Run the official Dapr Python SDK's own examples, unchanged, against edge over gRPC.

    python tests/sdk/python_examples.py PYTHON_SDK [--rev REV] [--only NAME ...]

PYTHON_SDK is a checkout of github.com/dapr/python-sdk, or its git directory (then the
files of `--rev`, default HEAD, are read with `git show`). Each example's folder is copied
to a temporary folder; its README's mechanical-markdown STEP blocks are run the way
mechanical-markdown runs them (`bash -c` in the example's folder, background steps left
running until the end, `sleep` after starting, `timeout_seconds` per command), with
`dapr run` / `dapr stop` replaced by `edge run` / `edge stop` and `python3` being this
venv's. The app code and flags are not touched. What Dapr's self-hosted setup provides
is replaced by edge's own components, keeping the example's component names:

- the example's components whose type edge lacks (Redis, MongoDB, Kafka) get stand-ins
  (see stand_in()); components of a type edge has are used as they are;
- `dapr init`'s default components (statestore, pubsub) are written to a fresh
  EDGE_HOME per example;
- Mosquitto is started on a free port for the MQTT stand-ins (tests/brokers.py);
- `redis-cli SET key "value||version"` becomes `edge config set`, and the docker steps
  that start or stop Redis, MongoDB or Kafka are left out (see INFRA).

The expected lines are then looked for in the step's output (stdout and stderr, as
`edge run` relays both as `== APP ==` lines): in order unless `match_order: none`, whole
lines unless `output_match_mode: substring`. Prints a table example / result / reason
and exits 1 if any example fails. Not a pytest module: the CI machine cannot fetch the
SDK, and the examples' code is not part of this repository."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.brokers import Mosquitto, mosquitto_binary  # noqa: E402

VENV_BIN = Path(sys.executable).parent
EDGE = VENV_BIN / "edge"
DEFAULT_SDK = "/work/.mirror/dapr+python-sdk/repo"

# Example -> why it is skipped (None: run it).
EXAMPLES: dict[str, str | None] = {
    "state_store": None,
    "state_store_query": None,
    "invoke-simple": None,
    "invoke-binding": None,
    "pubsub-simple": None,
    "pubsub-streaming": None,
    "secret_store": None,
    "configuration": None,
    "distributed_lock": None,
    "metadata": None,
    "grpc_proxying": None,
}

# Lines the README expects that the example's own code cannot print (the README is stale;
# upstream's tests/examples check the corrected text). Replaced, and said so in the table.
README_ERRATA: dict[tuple[str, str], str] = {
    ("distributed_lock", "The lock will will expire in 60 seconds."):
        "The lock will expire in 60 seconds.",
}

# Expected lines that hold values of the Redis store the example was written for, as
# patterns, with the reason. Such an example passes as PASS* (with this note).
ASSUMPTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("state_store", "Got value=b'value_1' eTag=1"): (
        r"Got value=b'value_1' eTag=\S+",
        "etags: Redis counts versions (1, 2); state.sqlite, like Dapr's SQLite store, "
        "uses UUIDs"),
    ("state_store", "Got items with etags: [(b'value_1_updated', '2'), (b'value_2', '2')]"): (
        r"Got items with etags: \[\(b'value_1_updated', '[^']+'\), \(b'value_2', '[^']+'\)\]",
        "etags: Redis counts versions (1, 2); state.sqlite, like Dapr's SQLite store, "
        "uses UUIDs"),
    ("state_store_query", "Token: 6"): (
        r"Token: (?:6)?",
        "last page token: Dapr's MongoDB store answers one whenever a page is full; "
        "state.sqlite only when another page exists"),
}


def _mongo_numbers(line: str) -> str:
    return re.sub(r"(\d+)\\\.0\b", r"\1(?:\\.0)?", re.escape(line))


# The same as rules: (example, expected lines it applies to, pattern maker, reason).
ASSUMPTION_RULES: list[tuple[str, re.Pattern[str], Any, str]] = [
    ("state_store_query", re.compile(r"\d\.0\b"), _mongo_numbers,
     "numbers: MongoDB keeps JSON numbers as doubles (1036.0); state.sqlite returns the JSON "
     "as saved (1036)"),
]


def assumption_for(example: str, line: str) -> tuple[str, str] | None:
    if (example, line) in ASSUMPTIONS:
        return ASSUMPTIONS[(example, line)]
    for name, applies, make, reason in ASSUMPTION_RULES:
        if name == example and applies.search(line):
            return make(line), reason
    return None


# Expected lines that print the example's component types: with stand-ins the type (and
# the store's capabilities) are edge's. Checked as `name=... type=<stand-in type>` only.
COMPONENT_LINE = re.compile(r"^(\s*name=(\S+) type=)(\S+)( .*)$")

# Dapr CLI / daprd output the READMEs expect, and edge's words for the same event.
CLI_LINES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^✅\s+app stopped successfully: (\S+)$"), r"Stopped app \1"),
    # daprd's warning when the app answers RETRY (substring match)
    (re.compile(r"^RETRY status returned from app while processing pub/sub event$"),
     "the app answered RETRY; retrying"),
]


@dataclass
class Context:
    """One example's temporary world."""

    name: str
    work: Path            # the example's folder (a copy)
    home: Path            # EDGE_HOME
    data: Path            # SQLite files
    broker: Mosquitto | None
    notes: list[str] = field(default_factory=list)
    config_store: str | None = None
    stand_in_types: dict[str, str] = field(default_factory=dict)  # component -> edge type
    without_flags: tuple[str, ...] = ()

    @property
    def mqtt_url(self) -> str:
        assert self.broker is not None
        return self.broker.url


# ---------------------------------------------------------------- sources

def read_example(sdk: Path, rev: str | None, name: str, dest: Path) -> None:
    """Copy examples/<name> of a checkout, or of `rev` in a git directory."""
    folder = sdk / "examples" / name
    if rev is None and folder.is_dir():
        shutil.copytree(folder, dest)
        return
    rev = rev or "HEAD"
    listing = _git(sdk, "ls-tree", "-r", "--name-only", rev, "--", f"examples/{name}/")
    files = listing.decode().split("\n")
    files = [f for f in files if f]
    if not files:
        raise RuntimeError(f"examples/{name} not found in {sdk} at {rev}")
    for path in files:
        target = dest / Path(path).relative_to(f"examples/{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git(sdk, "show", f"{rev}:{path}"))


def sdk_commit(sdk: Path, rev: str | None) -> str:
    try:
        return _git(sdk, "log", "-1", "--format=%H (%cs)", rev or "HEAD").decode().strip()
    except RuntimeError:
        return "unknown (not a git checkout)"


def _git(sdk: Path, *args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(sdk), *args], capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace')}")
    return done.stdout


# ---------------------------------------------------------------- README steps

@dataclass
class Step:
    name: str
    params: dict[str, Any]
    blocks: list[str]
    commands: list[Command] = field(default_factory=list)
    expected: list[str | re.Pattern[str]] = field(default_factory=list)
    adapted: bool = False
    stderr_from: int = 1 << 30  # expected[stderr_from:] are the expected_stderr_lines
    unchecked: list[str] = field(default_factory=list)   # expected lines of left-out infra
    translated: list[str] = field(default_factory=list)  # notes

    @property
    def background(self) -> bool:
        return bool(self.params.get("background", False))

    @property
    def sleep(self) -> float:
        return float(self.params.get("sleep", 0) or 0)

    @property
    def timeout(self) -> float:
        return float(self.params.get("timeout_seconds", 300))

    @property
    def substring(self) -> bool:
        return self.params.get("output_match_mode", "exact") == "substring"

    @property
    def any_order(self) -> bool:
        return str(self.params.get("match_order", "sequential")) == "none"

    @property
    def expected_rc(self) -> int | None:
        return self.params.get("expected_return_code", 0)


STEP_RE = re.compile(r"<!--\s*STEP\s*\n(.*?)-->(.*?)<!--\s*END_STEP\s*-->", re.S)
BLOCK_RE = re.compile(r"^```(?:bash|sh|shell)[ \t]*\n(.*?)^```", re.S | re.M)


def parse_steps(readme: str) -> list[Step]:
    steps = []
    for params_text, body in STEP_RE.findall(readme):
        params = yaml.safe_load(params_text) or {}
        steps.append(Step(str(params.get("name", "")), params, BLOCK_RE.findall(body)))
    return steps


# ---------------------------------------------------------------- stand-ins

def stand_in(doc: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """edge's component for one of the example's, or None to keep it unchanged."""
    ctype = doc.get("spec", {}).get("type", "")
    name = doc["metadata"]["name"]
    meta = {m["name"]: m.get("value") for m in doc.get("spec", {}).get("metadata") or []}
    if ctype.startswith("state.") and ctype not in ("state.sqlite", "state.in-memory"):
        fields = {"connectionString": str(ctx.data / "state.db")}
        # Store-independent Dapr fields carry over as they are.
        for common in ("actorStateStore", "keyPrefix", "outboxPublishPubsub",
                       "outboxPublishTopic", "outboxPubsub", "outboxDiscardWhenMissingState"):
            if meta.get(common) not in (None, ""):
                fields[common] = str(meta[common])
        if ctype == "state.mongodb":
            # Dapr's MongoDB query is not limited to the caller's keys: the README
            # imports the data set as app `demo` and queries it as `queryexample`.
            fields["keyPrefix"] = "none"
        return _component(name, "state.sqlite", fields)
    if ctype.startswith("pubsub.") and ctype not in ("pubsub.mqtt3", "pubsub.in-memory"):
        return _component(name, "pubsub.mqtt3", _pubsub_fields(ctx))
    if ctype.startswith("lock.") and ctype not in ("lock.sqlite", "lock.in-memory"):
        return _component(name, "lock.sqlite", {"connectionString": str(ctx.data / "lock.db")})
    if ctype.startswith("configuration.") and ctype not in (
            "configuration.sqlite", "configuration.local.file"):
        ctx.config_store = name
        return _component(name, "configuration.sqlite",
                          {"connectionString": str(ctx.data / "config.db")})
    if ctype == "bindings.kafka":
        topic = meta.get("publishTopic") or meta.get("topics") or name
        return _component(name, "bindings.mqtt3", {
            "url": ctx.mqtt_url, "topic": topic, "consumerID": meta.get("consumerGroup") or name})
    if ctype.startswith("configuration."):
        ctx.config_store = name
    return None


def _pubsub_fields(ctx: Context) -> dict[str, str]:
    # daprd sends an event the app answered RETRY to its dead-letter topic once the
    # resiliency retries (none by default) are spent; edge retries without end unless
    # backOffMaxRetries says otherwise.
    return {"url": ctx.mqtt_url, "backOffMaxRetries": "3"}


def _component(name: str, ctype: str, fields: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "dapr.io/v1alpha1", "kind": "Component", "metadata": {"name": name},
            "spec": {"type": ctype, "version": "v1",
                     "metadata": [{"name": k, "value": v} for k, v in fields.items()]}}


def prepare(ctx: Context) -> None:
    """Default components in EDGE_HOME, stand-ins in the example's resource folders."""
    components = ctx.home / "components"
    components.mkdir(parents=True)
    defaults = [
        _component("statestore", "state.sqlite",
                   {"connectionString": str(ctx.data / "state.db"), "actorStateStore": "true"}),
        _component("pubsub", "pubsub.mqtt3", _pubsub_fields(ctx)),
    ]
    for doc in defaults:
        (components / f"{doc['metadata']['name']}.yaml").write_text(yaml.safe_dump(doc))
    for path in sorted(ctx.work.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or "deploy" in path.parts:
            continue
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        if not any(isinstance(d, dict) and d.get("kind") == "Component" for d in docs):
            continue
        out, changed = [], False
        for doc in docs:
            new = stand_in(doc, ctx) if isinstance(doc, dict) and doc.get("kind") == "Component" \
                else None
            if new is not None:
                changed = True
                ctx.stand_in_types[doc["metadata"]["name"]] = new["spec"]["type"]
                ctx.notes.append(f"{path.relative_to(ctx.work)}: {doc['spec']['type']} -> "
                                 f"{new['spec']['type']}")
            out.append(new if new is not None else doc)
        if changed:
            path.write_text(yaml.safe_dump_all(out))


# ---------------------------------------------------------------- commands

REDIS_SET = re.compile(r"""^docker exec \S+ redis-cli SET (\S+) (?:"([^"]*)"|(\S+))\s*$""")
INFRA = [  # (pattern, reason it is left out)
    (re.compile(r"^docker (run|kill)\b.*\bmongo"), "MongoDB: state.sqlite stands in"),
    (re.compile(r"^docker compose .*kafka"), "Kafka: bindings.mqtt3 on Mosquitto stands in"),
]


def translate(step: Step, ctx: Context) -> str | None:
    """The step's commands for edge; None if nothing is left to run. Raises ValueError
    for a command that cannot be translated."""
    scripts = []
    infra_only = True
    for block in step.blocks:
        lines = []
        for line in block.splitlines():
            text = line.strip()
            if not text or text.startswith("#"):
                lines.append(line)
                continue
            if re.match(r"^dapr (run|stop)\b", text):
                for flag in ctx.without_flags:
                    if re.search(rf"\s{re.escape(flag)}(?=[\s=])", line):
                        line = re.sub(rf"\s{re.escape(flag)}(?:=\S+)?(?=\s)", "", line)
                        ctx.notes.append(f"DIAGNOSTIC RUN: {flag} removed from the command")
                lines.append(re.sub(r"^(\s*)dapr ", rf"\1{EDGE} ", line))
                if text.startswith("dapr run"):
                    infra_only = False
                else:
                    step.translated.append("dapr stop -> edge stop")
                continue
            m = REDIS_SET.match(text)
            if m:
                key, raw = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
                value, _, version = raw.partition("||")
                store = ctx.config_store or "configurationstore"
                args = ["config", "set", "--resources-path", "components", store, key, value]
                if version:
                    args += ["--version", version]
                lines.append(shlex.join([str(EDGE), *args]))
                step.translated.append("redis-cli SET -> edge config set")
                continue
            for pattern, reason in INFRA:
                if pattern.search(text):
                    lines.append(f"# left out ({reason}): {text}")
                    step.translated.append(f"left out: {reason}")
                    break
            else:
                if text.startswith(("docker", "redis-cli", "kubectl", "dapr ")):
                    raise ValueError(f"no edge equivalent for: {text}")
                lines.append(line)
                infra_only = False
        scripts.append("\n".join(lines))
    # Expected lines of infrastructure commands (redis-cli's OK, docker's container
    # name) are that tool's output, not the example's.
    # stdout and stderr lines are two sequences, each in its own order
    stdout_lines = [str(x) for x in step.params.get("expected_stdout_lines") or []]
    stderr_lines = [str(x) for x in step.params.get("expected_stderr_lines") or []]
    for n, line in enumerate(stdout_lines + stderr_lines):
        if n == len(stdout_lines):
            step.stderr_from = len(step.expected)
        fixed = README_ERRATA.get((ctx.name, line))
        if fixed is not None:
            ctx.notes.append(f"README expects {line!r}; the example prints {fixed!r}")
            line = fixed
        cli = _cli_line(line)
        m = COMPONENT_LINE.match(line)
        assumption = assumption_for(ctx.name, line)
        if assumption is not None:
            step.expected.append(re.compile(assumption[0]))
            step.adapted = True
            ctx.notes.append(f"adapted: {assumption[1]}")
        elif cli is not None:
            step.expected.append(cli)
            ctx.notes.append(f"step '{step.name}': Dapr's {line.strip()!r} is edge's {cli!r}")
        elif m and m.group(2) in ctx.stand_in_types:
            step.expected.append(re.compile(
                re.escape(f"{m.group(1)}{ctx.stand_in_types[m.group(2)]} ") + ".*"))
            step.adapted = True
            ctx.notes.append("adapted: the registered-components lines are checked for name and "
                             "stand-in type (the README prints the Redis types, versions and "
                             "capabilities)")
        elif infra_only and step.translated:
            step.unchecked.append(line)
        else:
            step.expected.append(line)
    if infra_only and not any(not s.strip().startswith("#") and s.strip()
                              for sc in scripts for s in sc.splitlines()):
        return None
    return "\n".join(scripts)


def _cli_line(line: str) -> str | None:
    for pattern, repl in CLI_LINES:
        if pattern.match(line):
            return pattern.sub(repl, line)
    return None


class Command:
    def __init__(self, script: str, cwd: Path, env: dict[str, str], timeout: float,
                 log: Path) -> None:
        self.script, self.cwd, self.env, self.timeout, self.log = script, cwd, env, timeout, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.timed_out = False
        self.rc: int | None = None
        self.duration = 0.0
        self.cut_short = False

    def start(self) -> None:
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(["bash", "-c", self.script], cwd=self.cwd, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.started = time.monotonic()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        assert self.proc is not None
        self.proc.wait()
        self.duration = time.monotonic() - self.started

    def wait(self) -> int:
        assert self.proc is not None
        left = self.started + self.timeout - time.monotonic()
        try:
            self.rc = self.proc.wait(max(left, 0.01))
        except subprocess.TimeoutExpired:
            # as mechanical-markdown: terminate, 10 s, kill
            self.timed_out = True
            self._signal(signal.SIGTERM)
            try:
                self.rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.rc = self.proc.wait()
        self._signal(signal.SIGKILL)  # anything of it still around
        return self.rc

    def kill(self) -> None:
        if self.proc is not None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# ---------------------------------------------------------------- matching

APP_PREFIX = "== APP == "


def missing_lines(step: Step, output: str) -> list[str]:
    """Expected lines not seen: in order (each after the previous one found), or
    anywhere with `match_order: none`."""
    lines = output.splitlines()
    missing, pos = [], 0
    used: set[int] = set()
    for n, want in enumerate(step.expected):
        if n == step.stderr_from:
            pos = 0  # the stderr lines' own sequence
        start = 0 if step.any_order else pos
        found = next((i for i in range(start, len(lines))
                      if i not in used and _matches(want, lines[i], step.substring)), None)
        if found is None:
            missing.append(want if isinstance(want, str) else f"/{want.pattern}/")
        else:
            used.add(found)
            pos = found + 1
    return missing


def _matches(expected: str | re.Pattern[str], line: str, substring: bool) -> bool:
    candidates = {line, line.rstrip(), line.removeprefix(APP_PREFIX),
                  line.removeprefix(APP_PREFIX).rstrip()}
    if isinstance(expected, re.Pattern):
        return any((expected.search(c) if substring else expected.fullmatch(c))
                   for c in candidates)
    if substring:
        return expected in line
    return expected in candidates


# ---------------------------------------------------------------- one example

@dataclass
class Result:
    name: str
    status: str  # PASS, PASS* (with adapted expectations, see notes), FAIL, SKIP
    reason: str
    details: str = ""
    notes: list[str] = field(default_factory=list)


def run_example(sdk: Path, rev: str | None, name: str, scratch: Path, factor: float,
                verbose: bool, without_flags: tuple[str, ...] = ()) -> Result:
    skip = EXAMPLES.get(name)
    if skip:
        return Result(name, "SKIP", skip)
    base = scratch / name
    work = base / "example"
    read_example(sdk, rev, name, work)
    home, data = base / "home", base / "data"
    data.mkdir(parents=True)
    # every example gets a broker: the default `pubsub` component is MQTT
    broker = Mosquitto(base / "mosquitto").start()
    ctx = Context(name, work, home, data, broker, without_flags=without_flags)
    commands: list[Command] = []
    try:
        prepare(ctx)
        steps = parse_steps((work / "README.md").read_text())
        if not steps:
            return Result(name, "SKIP", "the README has no STEP blocks", notes=ctx.notes)
        env = dict(os.environ, EDGE_HOME=str(home),
                   PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("DAPR_HTTP_PORT", None)
        env.pop("DAPR_GRPC_PORT", None)
        scripts = []
        for step in steps:
            try:
                scripts.append(translate(step, ctx))
            except ValueError as err:
                return Result(name, "FAIL", f"step '{step.name}': {err}", notes=ctx.notes)

        # Run as mechanical-markdown does: in order, background steps left running;
        # a foreground step with the wrong exit code ends the run.
        aborted = None
        for i, (step, script) in enumerate(zip(steps, scripts, strict=True)):
            if script is None:
                continue
            timeout = (step.timeout + step.sleep) * factor
            cmd = Command(script, work, env, timeout, base / f"step{i}.log")
            step.commands.append(cmd)
            commands.append(cmd)
            if verbose:
                print(f"[{name}] step '{step.name}': {script.strip()}", flush=True)
            cmd.start()
            if not step.background:
                cmd.wait()
                if step.expected_rc is not None and cmd.rc != step.expected_rc:
                    aborted = step
                    break
            if step.sleep:
                time.sleep(step.sleep * factor)
        # Background commands get their README timeout, unless a command already
        # failed: then the example has failed and waiting out the others (up to the
        # 300 s default) would tell nothing more.
        pending = [(step, cmd) for step in steps for cmd in step.commands if cmd.rc is None]
        failed_early = None
        while pending:
            for step, cmd in list(pending):
                if cmd.proc is not None and cmd.proc.poll() is not None:
                    cmd.wait()
                    pending.remove((step, cmd))
                elif time.monotonic() > cmd.started + cmd.timeout:
                    cmd.wait()  # terminates it
                    pending.remove((step, cmd))
            failed_early = failed_early or next(
                (s for s in steps for c in s.commands if c.rc is not None and not c.timed_out
                 and s.expected_rc is not None and c.rc != s.expected_rc),
                None)
            if failed_early is not None:
                for _step, cmd in pending:
                    cmd.cut_short = True
                    cmd.kill()
                    cmd.wait()
                break
            time.sleep(0.2)

        failures, details = [], []
        for step in steps:
            for cmd in step.commands:
                out = cmd.output()
                problems = []
                if cmd.cut_short:
                    problems.append(f"stopped after {cmd.duration:.0f} s, as step "
                                    f"'{failed_early.name if failed_early else '?'}' had failed")
                elif step.expected_rc is not None and cmd.rc != step.expected_rc:
                    problems.append(f"exit code {cmd.rc}" + (" (timed out after "
                                    f"{cmd.timeout:g} s)" if cmd.timed_out else ""))
                missing = missing_lines(step, out)
                if missing:
                    problems.append(f"missing {len(missing)} of {len(step.expected)} expected "
                                    f"lines, first {missing[0]!r}")
                if problems:
                    failures.append((0 if not cmd.cut_short and not cmd.timed_out
                                     and cmd.rc != step.expected_rc else 1,
                                     f"step '{step.name}': " + ", ".join(problems)))
                    problems += [f"missing: {m!r}" for m in missing[1:]]
                    details.append(f"--- {name} / step '{step.name}' (ran {cmd.duration:.1f} s)"
                                   "\n    " + "\n    ".join(problems) + "\n"
                                   f"$ {cmd.script.strip()}\n{_tail(out)}")
                elif verbose:
                    details.append(f"--- {name} / step '{step.name}' passed in "
                                   f"{cmd.duration:.1f} s\n{_tail(out)}")
            if step.unchecked:
                ctx.notes.append(f"step '{step.name}': not checked (output of the tool edge "
                                 f"replaces): {step.unchecked}")
        if aborted is not None and not failures:
            failures.append((0, f"step '{aborted.name}' ended the run"))
        for step in steps:
            for note in dict.fromkeys(step.translated):
                ctx.notes.append(f"step '{step.name}': {note}")
        if failures:
            return Result(name, "FAIL", min(failures)[1], "\n".join(details), ctx.notes)
        if any(step.adapted for step in steps):
            return Result(name, "PASS*", "all expected lines seen, some adapted (see notes)",
                          "\n".join(details), ctx.notes)
        return Result(name, "PASS", "all expected lines seen", "\n".join(details), ctx.notes)
    finally:
        for cmd in commands:
            cmd.kill()
        _stop_leftovers(home)
        if broker is not None:
            broker.stop()


def _stop_leftovers(home: Path) -> None:
    env = dict(os.environ, EDGE_HOME=str(home))
    listing = subprocess.run([str(EDGE), "list"], capture_output=True, text=True, env=env)
    for line in listing.stdout.splitlines()[1:]:
        app_id = line.split()[0] if line.split() else ""
        if app_id:
            subprocess.run([str(EDGE), "stop", "--app-id", app_id], capture_output=True, env=env)


def _tail(text: str, lines: int = 60) -> str:
    all_lines = text.splitlines()
    cut = all_lines[-lines:]
    head = [f"... ({len(all_lines) - lines} lines before)"] if len(all_lines) > lines else []
    return "\n".join(head + cut)


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdk", nargs="?", default=os.environ.get("PYTHON_SDK", DEFAULT_SDK),
                        help="python-sdk checkout or git directory")
    parser.add_argument("--rev", help="revision to read with git show (default: the checkout's "
                        "files, or HEAD of a git directory)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=list(EXAMPLES),
                        help="run only these examples")
    parser.add_argument("--timeout-factor", type=float, default=1.0,
                        help="multiply the READMEs' timeouts and sleeps (slow machines)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument("--without-flag", action="append", default=[], metavar="FLAG",
                        help="diagnosis only: drop this `dapr run` flag (a boolean one) from the "
                        "commands, to see what else fails; the run then counts as failed")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every step's output")
    args = parser.parse_args(argv)

    if not EDGE.exists():
        print(f"no edge next to {sys.executable}: run this with the venv's python "
              "(make sdk-examples)", file=sys.stderr)
        return 2
    sdk = Path(args.sdk)
    if not sdk.exists():
        print(f"no python-sdk at {sdk}", file=sys.stderr)
        return 2
    if mosquitto_binary() is None:
        print("mosquitto is not installed: apt-get install mosquitto", file=sys.stderr)
        return 2
    commit = sdk_commit(sdk, args.rev)
    print(f"python-sdk {sdk} at {commit}; edge {EDGE}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="edge-sdk-examples-"))
    results = []
    try:
        for name in args.only or list(EXAMPLES):
            started = time.monotonic()
            print(f"== {name} ...", flush=True)
            try:
                result = run_example(sdk, args.rev, name, scratch, args.timeout_factor,
                                     args.verbose, tuple(args.without_flag))
            except Exception as err:  # a broken harness step is a failure, not a crash
                result = Result(name, "FAIL", f"harness error: {err!r}")
            result.reason += f" ({time.monotonic() - started:.0f} s)"
            result.notes = list(dict.fromkeys(result.notes))
            if args.without_flag:
                result.status = f"({result.status})"  # a diagnosis, not a result
            print(f"   {result.status}: {result.reason}", flush=True)
            if result.details:
                print(result.details, flush=True)
            results.append(result)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    print(f"\npython-sdk {commit}\n")
    width = max(len(r.name) for r in results)
    swidth = max(6, *(len(r.status) for r in results))
    print(f"{'example':<{width}}  {'result':<{swidth}}  reason")
    print(f"{'-' * width}  {'-' * swidth}  ------")
    for r in results:
        print(f"{r.name:<{width}}  {r.status:<{swidth}}  {r.reason}")
        for note in r.notes:
            print(f"{'':<{width}}  {'':<{swidth}}  note: {note}")
    if any(r.status == "PASS*" for r in results):
        print("\nPASS*: passed, with expected lines adapted where the README assumes its Redis or "
              "MongoDB store (see the notes)")
    if args.without_flag:
        print(f"\ndiagnostic run without {args.without_flag}: not a result")
        return 1
    return 1 if any(r.status == "FAIL" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
