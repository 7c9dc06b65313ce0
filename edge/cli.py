"""The `edge` command: sidecar (daprd), run (dapr run), init, list, stop, version."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from edge import __version__
from edge.runtime import home

EXAMPLES = """\
examples:
  edge init                                           write default components to $EDGE_HOME
  edge run --app-id orders --app-port 3000 -- node app.js
  edge run --app-id worker                            a sidecar with no app
  edge run -f dapr.yaml                               several apps from a Dapr run file
  edge sidecar --app-id orders --app-port 3000 --resources-path ./components
  edge list                                           running sidecars on this host
  edge stop --app-id orders
  edge config set configstore maxSpeed 120            change a configuration item
"""


def _sidecar_flags(parser: argparse.ArgumentParser, for_run: bool) -> None:
    add = parser.add_argument
    add("--app-id", "-a", required=not for_run, help="the app's id")
    add("--app-port", "-p", type=int, help="the port the app listens on")
    add("--app-protocol", "-P", default="http", choices=["http", "grpc"],
        help="protocol of the app channel: http, or grpc for an app serving Dapr's "
        "AppCallback service (default http)")
    add("--app-channel-address", default="127.0.0.1", help="address of the app (default 127.0.0.1)")
    port_help = "a free port" if for_run else "3500"
    add("--dapr-http-port", "-H", type=int, default=None if for_run else 3500,
        help=f"port of the Dapr HTTP API (default {port_help})")
    add("--dapr-grpc-port", "-G", type=int, default=None if for_run else 50001,
        help=f"port of the Dapr gRPC API, given to the app as DAPR_GRPC_PORT (default "
        f"{'a free port' if for_run else '50001'}; 0: no gRPC API)")
    add("--dapr-internal-grpc-port", type=int, default=0, dest="internal_port",
        help="port other sidecars call this one on (HTTP in this version; default a free port)")
    add("--dapr-listen-addresses", default="127.0.0.1",
        help="comma-separated addresses the API listens on (default 127.0.0.1)")
    add("--resources-path", "--components-path", "-d", action="append", dest="resources_paths",
        help="folder or file of resource YAML; repeatable (default $EDGE_HOME/components)")
    add("--config", "-c", help="a Configuration YAML (default $EDGE_HOME/config.yaml if present)")
    add("--log-level", default="info", choices=["debug", "info", "warn", "error", "fatal"])
    add("--log-as-json", action="store_true", help="one JSON object per log line")
    add("--enable-api-logging", action="store_true", help="log every API call")
    add("--dapr-http-max-request-size", type=int, default=4, metavar="MB",
        help="largest request body accepted, in MB (default 4)")
    add("--dapr-graceful-shutdown-seconds", type=float, default=5.0,
        help="how long in-flight work may take at shutdown (default 5)")
    add("--app-max-concurrency", type=int, default=-1,
        help="most concurrent calls to the app (default unlimited)")
    # daprd's syntax: `--enable-metrics=false`; a bare `--enable-metrics` means true.
    add("--enable-metrics", type=_boolean, nargs="?", const=True, default=True, metavar="BOOL",
        help="serve Prometheus metrics (default true)")
    metrics_help = "a free port" if for_run else "9090"
    add("--metrics-port", type=int, default=None if for_run else 9090,
        help=f"port of the Prometheus /metrics endpoint on 127.0.0.1 (default {metrics_help})")
    # dapr run's app health check flags: accepted so that Dapr commands run
    # unchanged; edge does not probe the app's health yet (it says so at start).
    add("--enable-app-health-check", type=_boolean, nargs="?", const=True, default=False,
        metavar="BOOL", help="accepted for compatibility; edge does not probe app health yet")
    add("--app-health-check-path", help="accepted for compatibility (see above)")
    for flag in ("--app-health-probe-interval", "--app-health-probe-timeout",
                 "--app-health-threshold"):
        add(flag, type=int, help="accepted for compatibility (see above)")


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge", description="A Dapr-compatible sidecar runtime for edge gateways.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sidecar = sub.add_parser("sidecar", help="run the sidecar alone (like daprd)",
                             epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _sidecar_flags(sidecar, for_run=False)
    run = sub.add_parser("run", help="run an app with its sidecar (like dapr run)",
                         usage="edge run [flags] [-- COMMAND ARGS...]  |  edge run -f FILE",
                         epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _sidecar_flags(run, for_run=True)
    run.add_argument("--run-file", "-f", help="a multi-app run file (dapr.yaml) or its folder")
    init = sub.add_parser("init", help="write default components and configuration")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    sub.add_parser("list", help="list the sidecars running on this host")
    stop = sub.add_parser("stop", help="stop a running app and its sidecar")
    stop.add_argument("--app-id", "-a", required=True)
    from edge.runtime.configcli import add_config_parser

    add_config_parser(sub)
    components = sub.add_parser("components", help="print the supported component types "
                                "and their metadata fields (Markdown)")
    components.add_argument("--update-readme", metavar="README",
                            help="rewrite the generated block of this README instead")
    sub.add_parser("version", help="print the version")
    return parser


def sidecar_options(args: argparse.Namespace) -> SidecarOptions:  # noqa: F821
    from edge.runtime.sidecar import SidecarOptions

    resources = args.resources_paths
    if not resources and home.components_dir().is_dir():
        resources = [str(home.components_dir())]
    config = args.config
    if config is None and home.default_config().is_file():
        config = str(home.default_config())
    return SidecarOptions(
        app_id=args.app_id,
        app_port=args.app_port,
        app_protocol=args.app_protocol,
        app_channel_address=args.app_channel_address,
        dapr_http_port=args.dapr_http_port,
        dapr_grpc_port=args.dapr_grpc_port,
        internal_port=args.internal_port,
        listen_addresses=[a.strip() for a in args.dapr_listen_addresses.split(",") if a.strip()],
        resources_paths=resources or [],
        config=config,
        enable_api_logging=args.enable_api_logging,
        max_request_size_mb=args.dapr_http_max_request_size,
        graceful_shutdown_seconds=args.dapr_graceful_shutdown_seconds,
        app_max_concurrency=args.app_max_concurrency,
        api_token=os.environ.get("DAPR_API_TOKEN") or None,
        app_api_token=os.environ.get("APP_API_TOKEN") or None,
        namespace=os.environ.get("NAMESPACE", ""),
        enable_metrics=args.enable_metrics,
        metrics_port=args.metrics_port,
    )


def _components(readme: str | None) -> int:
    from pathlib import Path

    from edge.components.docs import component_reference, update_readme
    from edge.runtime.registry import COMPONENT_TYPES

    if readme is None:
        print(component_reference(COMPONENT_TYPES), end="")
    elif update_readme(Path(readme), COMPONENT_TYPES):
        print(f"updated {readme}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    parser = _parser()
    args = parser.parse_args(argv)
    if command and args.command != "run":
        parser.error("a command after -- only goes with `edge run`")
    if args.command in ("sidecar", "run") and args.enable_app_health_check:
        print("edge: --enable-app-health-check is accepted but edge does not probe the app's "
              "health yet; it delivers to the app whatever its health", file=sys.stderr)
    if args.command == "sidecar":
        from edge.runtime.logs import setup_logging
        from edge.runtime.sidecar import run_sidecar

        setup_logging(args.log_level, args.log_as_json, args.app_id)
        return run_sidecar(sidecar_options(args))
    if args.command == "run":
        from edge.runtime import launcher

        return launcher.main(args, command)
    if args.command == "init":
        from edge.runtime.defaults import init_home

        return init_home(force=args.force)
    if args.command == "list":
        from edge.runtime.launcher import list_sidecars

        return list_sidecars()
    if args.command == "stop":
        from edge.runtime.launcher import stop_app

        return stop_app(args.app_id)
    if args.command == "config":
        from edge.runtime.configcli import run_config

        return run_config(args)
    if args.command == "components":
        return _components(args.update_readme)
    if args.command == "version":
        print(f"edge {__version__} (Dapr HTTP API v1.0)")
        return 0
    parser.print_help()
    return 0
