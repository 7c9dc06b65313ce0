"""Runs a command in a QEMU guest that boots Debian's stock amd64 kernel with `gpio-sim`.

The guest sees this host's root filesystem read-only over 9p and chroots into it, so the
command runs the host's own programs (the project's venv, Python, ...) against a real
kernel with a simulated GPIO chip driver. A host folder (`shared`, usually a test's
tmp_path) is mounted read-write at the same absolute path inside the guest: the command's
temp files and logs go there and the host reads them afterwards.

Everything downloaded or built lives in CACHE ($EDGE_VM_CACHE, or ~/.cache/edge/vm):

    CACHE/.lock                   flock held while building
    CACHE/.run.lock               flock held while a guest runs (one VM at a time)
    CACHE/kernel-version          the last answer of apt-cache, keyed by apt's package lists
    CACHE/<kver>/                 e.g. 6.1.0-56-amd64, from `apt-cache depends linux-image-amd64`
        root/                     `dpkg -x` of linux-image-<kver> (boot/vmlinuz-*, lib/modules/*)
        vmlinux                   the kernel, decompressed (QEMU boots it through PVH: faster)
        headers/                  `dpkg -x` of the headers and kbuild packages
        gpio-sim/gpio-sim.ko      gpio-sim + irq_sim, built out of tree from linux-source
        initrd-<hash>.cpio        busybox, the modules, init.sh (hash of init.sh, this file, ready)
        ready                     written last: the kernel, modules and gpio-sim are built
                                  (holds BUILD_RECIPE: bump it to rebuild cached kernels)

Host packages (Debian): qemu-system-x86 busybox-static kmod make gcc-12 (plus apt and dpkg).
Set EDGE_SKIP_VM_TESTS=1 to skip the tests that need the guest.

Usage:

    image = prepare()
    result = run(image, ["/path/to/venv/bin/python", "-m", "pytest", ...], shared=tmp_path)
    assert result.returncode == 0, result.output
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import lzma
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CACHE = Path(os.environ.get("EDGE_VM_CACHE") or Path.home() / ".cache" / "edge" / "vm")

HERE = Path(__file__).resolve().parent
INIT_SCRIPT = HERE / "init.sh"

SKIP_HINT = "Set EDGE_SKIP_VM_TESTS=1 to skip the VM tests explicitly."
INSTALL_HINT = "apt-get install qemu-system-x86 busybox-static kmod make gcc-12"

# Modules the initramfs loads, dependencies first (resolved through modules.dep).
GUEST_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "configfs"]

# The three files of the kernel's sources that make gpio-sim.ko.
SOURCE_FILES = {
    "drivers/gpio/gpio-sim.c": "gpio-sim-core.c",
    "drivers/gpio/gpiolib.h": "gpiolib.h",
    "kernel/irq/irq_sim.c": "irq_sim.c",
}
GPIO_SIM_KBUILD = "obj-m := gpio-sim.o\ngpio-sim-objs := gpio-sim-core.o irq_sim.o\n"

# Bump to rebuild cached kernels when the way they are built changes.
BUILD_RECIPE = 1

GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONSOLE_TAIL = 4000  # characters of the guest console kept in errors


class VmUnavailable(Exception):
    """The guest cannot be prepared on this host: the message says what is missing."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}\n{SKIP_HINT}")


class VmError(RuntimeError):
    """The guest booted (or tried to) but never ran the command to its end."""


@dataclass(frozen=True)
class Image:
    kernel_version: str  # e.g. 6.1.0-56-amd64
    kernel: Path  # vmlinux: uncompressed ELF booted through PVH (or the bzImage)
    initrd: Path  # uncompressed newc cpio
    gpio_sim: Path  # the built gpio-sim.ko (also inside the initrd)


@dataclass
class Result:
    returncode: int
    output: str  # the command's stdout+stderr; on failure also the tail of the guest console


def skip_requested() -> bool:
    return os.environ.get("EDGE_SKIP_VM_TESTS", "").strip().lower() in ("1", "true", "yes")


# --------------------------------------------------------------------------- prepare


def prepare() -> Image:
    """Returns a bootable image, downloading and building it into CACHE the first time."""
    _require_qemu()
    kver = _kernel_version()
    folder = CACHE / kver
    image = _ready_image(folder, kver)
    if image is not None:
        return image
    CACHE.mkdir(parents=True, exist_ok=True)
    with _flock(CACHE / ".lock"):
        image = _ready_image(folder, kver)
        if image is not None:
            return image
        if not _kernel_built(folder):
            _build_kernel(folder, kver)
        if not (folder / "vmlinux").exists():
            _unpack_kernel(folder, kver)
        _build_initrd(folder, kver)
        _forget_other_kernels(kver)
        image = _ready_image(folder, kver)
        assert image is not None, f"the image in {folder} is incomplete after building it"
        return image


def _require_qemu() -> None:
    if shutil.which("qemu-system-x86_64") is None:
        raise VmUnavailable(f"qemu-system-x86_64 is not installed: {INSTALL_HINT}")


def _require_build_tools() -> None:
    missing = [
        tool for tool in ("apt-get", "apt-cache", "dpkg-deb", "depmod", "make")
        if shutil.which(tool) is None
    ]
    if missing:
        raise VmUnavailable(f"{', '.join(missing)} not found (Debian's apt/dpkg and "
                            f"{INSTALL_HINT})")
    busybox = _busybox()
    if busybox is None:
        raise VmUnavailable(f"no statically linked busybox: {INSTALL_HINT}")


def _busybox() -> Path | None:
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox")):
        if candidate and Path(candidate).is_file() and _is_static_elf(Path(candidate)):
            return Path(candidate)
    return None


def _is_static_elf(path: Path) -> bool:
    """True for an ELF64 executable without a program interpreter (PT_INTERP)."""
    with path.open("rb") as file:
        header = file.read(64)
        if len(header) < 64 or header[:4] != b"\x7fELF" or header[4] != 2:
            return False
        phoff = struct.unpack_from("<Q", header, 0x20)[0]
        phentsize, phnum = struct.unpack_from("<HH", header, 0x36)
        file.seek(phoff)
        table = file.read(phentsize * phnum)
    return all(
        struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum)
    )


def _kernel_version() -> str:
    """The ABI name of Debian's current amd64 kernel, e.g. 6.1.0-56-amd64.

    `apt-cache` takes about a second here (apt's binary cache is off in Debian's container
    images), so the answer is remembered in CACHE until apt's package lists change."""
    stamp = _apt_lists_stamp()
    memo = CACHE / "kernel-version"
    with contextlib.suppress(OSError, ValueError):
        remembered_stamp, remembered = memo.read_text().split()
        if stamp and remembered_stamp == stamp:
            return remembered
    kver = _ask_apt_for_kernel_version()
    if stamp:
        with contextlib.suppress(OSError):
            CACHE.mkdir(parents=True, exist_ok=True)
            partial = memo.with_name(f"{memo.name}.{os.getpid()}")
            partial.write_text(f"{stamp} {kver}\n")
            partial.replace(memo)
    return kver


def _apt_lists_stamp() -> str:
    """Changes whenever `apt-get update` changes the package lists."""
    try:
        entries = sorted(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in os.scandir("/var/lib/apt/lists")
            if entry.is_file() and entry.name != "lock"
        )
    except OSError:
        return ""
    return hashlib.sha256(repr(entries).encode()).hexdigest()[:16] if entries else ""


def _ask_apt_for_kernel_version() -> str:
    try:
        out = subprocess.run(
            ["apt-cache", "depends", "linux-image-amd64"],
            capture_output=True, text=True, check=False,
        ).stdout
    except FileNotFoundError:
        out = ""
    match = re.search(r"Depends:\s*linux-image-(\S+-amd64)\b", out)
    if match:
        return match.group(1)
    # No apt (or no package lists): fall back on a kernel built earlier, if any.
    built = sorted(p.parent.name for p in CACHE.glob("*/ready") if _kernel_built(p.parent))
    if built:
        return built[-1]
    raise VmUnavailable(
        "cannot resolve Debian's kernel: `apt-cache depends linux-image-amd64` names no "
        "linux-image-*-amd64 (run `apt-get update` first; needs a Debian host)"
    )


def _kernel_built(folder: Path) -> bool:
    try:
        return (folder / "ready").read_text().split()[0] == f"recipe={BUILD_RECIPE}"
    except (OSError, IndexError):
        return False


def _ready_image(folder: Path, kver: str) -> Image | None:
    if not _kernel_built(folder):
        return None
    initrd = folder / f"initrd-{_initrd_key(folder, kver)}.cpio"
    image = Image(
        kernel_version=kver,
        kernel=folder / "vmlinux",
        initrd=initrd,
        gpio_sim=folder / "gpio-sim" / "gpio-sim.ko",
    )
    if image.kernel.exists() and image.initrd.exists() and image.gpio_sim.exists():
        return image
    return None


def _initrd_key(folder: Path, kver: str) -> str:
    digest = hashlib.sha256()
    digest.update(INIT_SCRIPT.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(" ".join(GUEST_MODULES).encode())
    digest.update((folder / "ready").read_bytes())
    return digest.hexdigest()[:16]


def _sh(argv: list[str], *, cwd: Path | None = None, what: str) -> str:
    proc = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, check=False,
        env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        raise VmUnavailable(
            f"{what} failed ({shlex.join(argv)} exited {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return proc.stdout


def _build_kernel(folder: Path, kver: str) -> None:
    """Downloads the kernel, its headers and sources; builds gpio-sim.ko; runs depmod."""
    _require_build_tools()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    series = ".".join(kver.split(".")[:2])  # 6.1
    show = _sh(["apt-cache", "show", f"linux-headers-{kver}"], what="apt-cache show")
    match = re.search(r"^Version:\s*(\S+)", show, re.MULTILINE)
    if not match:
        raise VmUnavailable(f"apt-cache knows no version of linux-headers-{kver}")
    version = match.group(1)  # the version of Debian's `linux` source package
    common = kver.rsplit("-", 1)[0] + "-common"

    debs = folder / "debs"
    debs.mkdir()
    packages = [
        f"linux-image-{kver}",
        f"linux-headers-{kver}",
        f"linux-headers-{common}",
        f"linux-kbuild-{series}={version}",
        f"linux-source-{series}={version}",
    ]
    _sh(["apt-get", "download", "-q", *packages], cwd=debs, what="apt-get download")

    def deb(name: str) -> Path:
        found = sorted(debs.glob(f"{name}_*.deb"))
        if not found:
            raise VmUnavailable(f"apt-get download did not bring {name}")
        return found[0]

    root = folder / "root"
    _sh(["dpkg-deb", "-x", str(deb(f"linux-image-{kver}")), str(root)], what="dpkg -x")
    _sh(["depmod", "-b", str(root), kver], what="depmod")

    headers = folder / "headers"
    for name in (f"linux-headers-{kver}", f"linux-headers-{common}", f"linux-kbuild-{series}"):
        _sh(["dpkg-deb", "-x", str(deb(name)), str(headers)], what="dpkg -x")
    tree = headers / "usr" / "src" / f"linux-headers-{kver}"
    makefile = tree / "Makefile"
    makefile.write_text(
        re.sub(r"^include /usr/src/", f"include {headers}/usr/src/",
               makefile.read_text(), flags=re.MULTILINE)
    )

    module = folder / "gpio-sim"
    module.mkdir()
    _extract_sources(deb(f"linux-source-{series}"), series, module)
    irq_sim = module / "irq_sim.c"
    text = irq_sim.read_text()
    patched = text.replace("handle_simple_irq(irq_to_desc(irqnum))", "generic_handle_irq(irqnum)")
    if "irq_to_desc(" in patched:  # not exported to modules
        raise VmUnavailable("irq_sim.c changed upstream: it calls irq_to_desc() differently")
    irq_sim.write_text(patched)
    (module / "Kbuild").write_text(GPIO_SIM_KBUILD)
    compiler = _kernel_compiler(root / "boot" / f"config-{kver}")
    _sh(["make", "-C", str(tree), f"M={module}", f"CC={compiler}", "modules"],
        what="building gpio-sim.ko")

    shutil.rmtree(debs)
    (folder / "ready").write_text(f"recipe={BUILD_RECIPE} {kver} {version}\n")


def _unpack_kernel(folder: Path, kver: str) -> None:
    """Writes `vmlinux`: the kernel to boot. Decompressing an xz bzImage takes the emulated
    CPU about 4 s on every boot; QEMU boots the uncompressed ELF directly through its PVH
    entry (CONFIG_PVH). Without PVH or for another compression, the bzImage is used as is."""
    vmlinuz = folder / "root" / "boot" / f"vmlinuz-{kver}"
    config = (folder / "root" / "boot" / f"config-{kver}").read_text()
    data = vmlinuz.read_bytes()
    kernel = data
    start = data.find(b"\xfd7zXZ\x00")
    if re.search(r"^CONFIG_PVH=y$", config, re.MULTILINE) and start >= 0:
        with contextlib.suppress(lzma.LZMAError):
            elf = lzma.LZMADecompressor().decompress(data[start:])
            if elf[:4] == b"\x7fELF":
                kernel = elf
    partial = folder / "vmlinux.partial"
    partial.write_bytes(kernel)
    partial.replace(folder / "vmlinux")


def _kernel_compiler(config: Path) -> str:
    """The compiler Debian built the kernel with (CONFIG_CC_VERSION_TEXT), e.g. gcc-12."""
    match = re.search(r'^CONFIG_CC_VERSION_TEXT="(\S+)', config.read_text(), re.MULTILINE)
    compiler = match.group(1) if match else "gcc"
    if shutil.which(compiler) is None:
        raise VmUnavailable(
            f"the kernel was built with {compiler}, which is not installed: "
            f"apt-get install {compiler}"
        )
    return compiler


def _extract_sources(deb: Path, series: str, dest: Path) -> None:
    """Takes SOURCE_FILES out of linux-source-<series>.tar.xz inside the .deb, streaming."""
    wanted = {f"linux-source-{series}/{path}": name for path, name in SOURCE_FILES.items()}
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as outer:
            for member in outer:
                if member.name.lstrip("./") != f"usr/src/linux-source-{series}.tar.xz":
                    continue
                inner_file = outer.extractfile(member)
                assert inner_file is not None
                with tarfile.open(fileobj=inner_file, mode="r|xz") as inner:
                    for entry in inner:
                        name = wanted.pop(entry.name, None)
                        if name is None:
                            continue
                        data = inner.extractfile(entry)
                        assert data is not None
                        (dest / name).write_bytes(data.read())
                        if not wanted:
                            break
                break
    finally:
        proc.kill()
        proc.wait()
    if wanted:
        raise VmUnavailable(f"linux-source-{series} lacks {', '.join(sorted(wanted))}")


def _module_order(root: Path, kver: str, names: list[str]) -> list[Path]:
    """The .ko files for `names` and their dependencies, in load order."""
    moddir = root / "lib" / "modules" / kver
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {Path(p).name.split(".ko")[0].replace("-", "_"): p for p in deps}
    builtin = {
        Path(p).name.split(".ko")[0].replace("-", "_")
        for p in (moddir / "modules.builtin").read_text().split()
    }
    order: list[str] = []

    def add(path: str) -> None:
        if path in order:
            return
        for dep in reversed(deps[path]):
            add(dep)
        order.append(path)

    for name in names:
        key = name.replace("-", "_")
        if key in by_name:
            add(by_name[key])
        elif key not in builtin:
            raise VmUnavailable(f"the kernel {kver} has no module {name}")
    for path in order:
        if not path.endswith((".ko", ".ko.xz")):
            raise VmUnavailable(f"module {path}: only .ko and .ko.xz are supported")
    return [moddir / path for path in order]


def _build_initrd(folder: Path, kver: str) -> None:
    busybox = _busybox()
    if busybox is None:
        raise VmUnavailable(f"no statically linked busybox: {INSTALL_HINT}")
    modules = _module_order(folder / "root", kver, GUEST_MODULES)
    modules.append(folder / "gpio-sim" / "gpio-sim.ko")
    archive = _Cpio()
    for directory in ("bin", "dev", "modules", "proc", "sys", "mnt"):
        archive.add_dir(directory)
    archive.add_file("init", INIT_SCRIPT.read_bytes(), 0o755)
    archive.add_file("bin/busybox", busybox.read_bytes(), 0o755)
    for index, module in enumerate(modules):
        data = module.read_bytes()
        if module.name.endswith(".xz"):  # busybox insmod takes plain .ko files only
            data = lzma.decompress(data)
        name = module.name.split(".ko")[0]
        archive.add_file(f"modules/{index:02d}-{name}.ko", data, 0o644)
    target = folder / f"initrd-{_initrd_key(folder, kver)}.cpio"
    # Other clones of the project may boot other init.sh versions from the same cache: an
    # initrd goes only when nothing has built it for a month.
    for old in folder.glob("initrd-*.cpio"):
        if time.time() - old.stat().st_mtime > 30 * 86400:
            old.unlink(missing_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(archive.finish())
    partial.rename(target)


class _Cpio:
    """A minimal newc ("070701") cpio writer, the initramfs format."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self.inode = 1

    def _entry(self, name: str, mode: int, data: bytes) -> None:
        encoded = name.encode() + b"\0"
        fields = [self.inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0]
        self.inode += 1
        header = b"070701" + b"".join(b"%08X" % field for field in fields)
        self.buffer.write(header + encoded)
        self.buffer.write(b"\0" * (-(len(header) + len(encoded)) % 4))
        self.buffer.write(data)
        self.buffer.write(b"\0" * (-len(data) % 4))

    def add_dir(self, name: str) -> None:
        self._entry(name, 0o040755, b"")

    def add_file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, 0o100000 | perm, data)

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"")
        return self.buffer.getvalue()


def _forget_other_kernels(kver: str) -> None:
    """Removes the builds of kernels Debian has moved past."""
    for ready in CACHE.glob("*/ready"):
        if ready.parent.name != kver:
            shutil.rmtree(ready.parent, ignore_errors=True)


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- run


def run(
    image: Image,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str = "/",
    shared: Path,
    timeout: float = 300,
) -> Result:
    """Boots the guest, runs `argv` chrooted in the host's root and returns its exit code
    and output. `shared` is mounted read-write at its own path in the guest. Guests run
    one at a time (a lock in CACHE): two emulated VMs on two cores slow each other a lot.
    Raises TimeoutError (with the console tail and the command's output so far) when the
    guest runs over `timeout` seconds (waiting for another guest to finish is not counted),
    VmError when the guest stops without finishing the command. A `cd` into a missing `cwd`
    gives returncode 127."""
    if not argv:
        raise ValueError("argv is empty")
    shared = Path(shared).resolve()
    if not shared.is_dir():
        raise ValueError(f"shared folder {shared} does not exist")
    variables = {"PATH": GUEST_PATH, "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
                 "LANG": "C.UTF-8", **(env or {})}
    for key in variables:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"bad environment variable name {key!r}")

    control = Path(tempfile.mkdtemp(prefix=".edge-vm-", dir=shared))
    try:
        (control / "target").write_text(f"{shared}\n")
        rc_file, out_file = control / "rc", control / "output"
        rc, out = shlex.quote(str(rc_file)), shlex.quote(str(out_file))
        lines = [
            "# written by tests/vm/harness.py, run by init.sh in the guest",
            f"exec > {out} 2>&1 < /dev/null",
            *(f"export {key}={shlex.quote(value)}" for key, value in variables.items()),
            f"cd {shlex.quote(cwd)} || {{ echo 127 > {rc}; exit; }}",
            shlex.join(argv),
            f"echo $? > {rc}",
        ]
        (control / "run.sh").write_text("\n".join(lines) + "\n")

        def read_output() -> str:
            return out_file.read_text(errors="replace") if out_file.exists() else ""

        with _flock(_run_lock()), tempfile.TemporaryFile() as console:
            try:
                _boot(image, shared, control.name, console, timeout)
            except TimeoutError as error:
                raise TimeoutError(
                    f"{error}\n--- command output so far ---\n{read_output()[-CONSOLE_TAIL:]}"
                ) from None
            tail = _tail(console)

        output = read_output()
        if not rc_file.exists():
            raise VmError(f"the guest stopped before the command finished:\n{output}\n"
                          f"--- guest console (tail) ---\n{tail}")
        returncode = int(rc_file.read_text().strip() or "-1")
        if returncode != 0:
            output += f"\n--- guest console (tail) ---\n{tail}"
        return Result(returncode=returncode, output=output)
    finally:
        shutil.rmtree(control, ignore_errors=True)


def _run_lock() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    return CACHE / ".run.lock"


def _virtfs_path(path: Path) -> str:
    return str(path).replace(",", ",,")  # qemu's option syntax doubles commas


def _boot(image: Image, shared: Path, control: str, console: IO[bytes], timeout: float) -> None:
    command = [
        "qemu-system-x86_64",
        "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "1024", "-smp", "2",
        "-nodefaults", "-no-user-config", "-display", "none", "-nic", "none",
        "-serial", "stdio", "-no-reboot",
        "-kernel", str(image.kernel), "-initrd", str(image.initrd),
        "-append", f"console=ttyS0 quiet panic=-1 mitigations=off edge_ctl={control}",
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
                   "multidevs=remap",
        "-virtfs", f"local,path={_virtfs_path(shared)},mount_tag=shared,security_model=none,"
                   "multidevs=remap",
    ]
    started = time.monotonic()
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise TimeoutError(
            f"the guest ran over {timeout:.0f} s "
            f"({time.monotonic() - started:.0f} s); console tail:\n{_tail(console)}"
        ) from None
    finally:
        _kill(proc)
    if proc.returncode != 0:
        raise VmError(f"qemu exited {proc.returncode}:\n{_tail(console)}")


def _tail(console: IO[bytes]) -> str:
    console.seek(0)
    return console.read().decode(errors="replace")[-CONSOLE_TAIL:]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
