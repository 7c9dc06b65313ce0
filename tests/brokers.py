"""Real message brokers for the tests: a Mosquitto of its own per test, on
free ports, with its own configuration and persistence folder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.harness import accepts, free_port

MOSQUITTO = "/usr/sbin/mosquitto"
INSTALL_HINT = "mosquitto is not installed: apt-get install mosquitto (make test-deps does it)"


def mosquitto_binary() -> str | None:
    if os.access(MOSQUITTO, os.X_OK):
        return MOSQUITTO
    return shutil.which("mosquitto")


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost signed by it,
    and a client certificate for mutual TLS."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_certificates(folder: Path) -> TlsFiles:
    """Made with the openssl CLI (Debian's `openssl` package)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the TLS tests need the openssl CLI: apt-get install openssl")
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(*(folder / name for name in (
        "ca.pem", "server.pem", "server.key", "client.pem", "client.key")))
    ca_key = folder / "ca.key"
    _openssl(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", ca_key, "-out", files.ca_cert, "-days", "2",
             "-subj", "/CN=edge test CA")
    _sign(openssl, folder, "server", ca_key, files, "subjectAltName=IP:127.0.0.1,DNS:localhost")
    _sign(openssl, folder, "client", ca_key, files, "extendedKeyUsage=clientAuth")
    return files


def _sign(openssl: str, folder: Path, name: str, ca_key: Path, files: TlsFiles,
          extension: str) -> None:
    key, csr, cert = folder / f"{name}.key", folder / f"{name}.csr", folder / f"{name}.pem"
    _openssl(openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN=edge test {name}")
    ext = folder / f"{name}.ext"
    ext.write_text(extension + "\n")
    _openssl(openssl, "x509", "-req", "-in", csr, "-CA", files.ca_cert, "-CAkey", ca_key,
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)


def _openssl(openssl: str, *args: object) -> None:
    done = subprocess.run([openssl, *map(str, args)], capture_output=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")


class Mosquitto:
    """One broker on 127.0.0.1. stop() and start() again keep the port and the
    persistence folder, so a test can take the broker away and bring it back
    with the sessions and queued messages it saved."""

    def __init__(self, folder: Path, *, websockets: bool = False, tls: TlsFiles | None = None,
                 extra_config: tuple[str, ...] = ()) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        self.binary = binary
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.ws_port = free_port() if websockets else None
        self.tls_port = free_port() if tls else None
        self.config = folder / "mosquitto.conf"
        self.config.write_text(self._config(tls, extra_config))
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _config(self, tls: TlsFiles | None, extra: tuple[str, ...]) -> str:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.folder}/",
            # stdout is block-buffered when redirected; stderr is not.
            "log_dest stderr",
            "log_type error", "log_type warning", "log_type notice", "log_type information",
        ]
        # Started as root, Mosquitto drops to user `mosquitto`, which cannot
        # write the persistence file in a test's folder (and still exits 0).
        if os.geteuid() == 0:
            lines.append("user root")
        if self.ws_port is not None:
            lines += [f"listener {self.ws_port} 127.0.0.1", "protocol websockets"]
        if tls is not None:
            lines += [f"listener {self.tls_port} 127.0.0.1", f"cafile {tls.ca_cert}",
                      f"certfile {tls.server_cert}", f"keyfile {tls.server_key}",
                      "require_certificate true"]
        return "\n".join([*lines, *extra]) + "\n"

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        assert not self.running, "broker already running"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.config)],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.port, self.ws_port, self.tls_port) if p is not None]
        while not all(accepts(port) for port in ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start:\n{self.output()}")
            time.sleep(0.01)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """SIGTERM: Mosquitto saves its sessions and queued messages first."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


