"""Drive Debian's real snap client (``/usr/bin/snap``) and daemon (snapd 2.57.6) in tests.

The real client is the judge of the store protocol. What it does and prints is written
down in ``docs/real-client.md``; this module wraps it:

* :func:`snap_download` runs ``snap download`` (CLI only, no daemon) against a store URL in a
  minimal, isolated environment and returns a :class:`SnapDownloadResult`. Against any store
  but Canonical's the run ends at the assertion trust check *after* the download, which
  :attr:`SnapDownloadResult.stopped_at_trust_check` recognises.
* :class:`SnapdDaemon` / :func:`snapd_daemon` start ``/usr/lib/snapd/snapd`` without systemd,
  pointed at a store with ``SNAPPY_FORCE_API_URL``, and give a :class:`SnapdHandle` whose
  ``run("find", "hello")`` runs the real ``snap`` client through it. The daemon owns
  ``/run/snapd.socket`` and ``/var/lib/snapd``, so only one runs at a time (a thread lock plus
  a file lock) and the state directories are snapshotted before and restored after.
* :func:`normalise_snap_output` makes ``snap info`` / ``snap find`` output comparable between
  two stores (for example the proxy and the simulator behind it).

Nothing here reaches beyond 127.0.0.1: processes get no inherited proxy settings, and by
default an unusable loopback proxy (``http://127.0.0.1:9``) catches any request to a
non-loopback host (snapd's serial registration always goes to api.snapcraft.io) so it fails
at once with "connection refused" instead of resolving or dialling an internet host. Go
never sends loopback destinations through a proxy, so the store under test is unaffected.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from shared.assertions import sha3_384_file

SNAP_BIN = Path("/usr/bin/snap")
SNAPD_BIN = Path("/usr/lib/snapd/snapd")
SNAPD_SOCKET = Path("/run/snapd.socket")
SNAPD_SNAP_SOCKET = Path("/run/snapd-snap.socket")
SNAPD_STATE_DIR = Path("/var/lib/snapd")
SNAPD_SNAPS_DIR = SNAPD_STATE_DIR / "snaps"
# Directories snapd 2.57 writes to when started as below (found by diffing the file system).
SNAPD_STATE_DIRS: tuple[Path, ...] = (SNAPD_STATE_DIR, Path("/var/cache/snapd"), Path("/snap"))
# What a fresh start removes from /var/lib/snapd so that every daemon starts unseeded.
SNAPD_VOLATILE = (
    "state.json", "state.lock", "system-key", "assertions", "device", "cache", "cookie",
    "seccomp", "features", "sequence", "errtracker.db", "snaps",
)  # fmt: skip
LOCK_FILE = Path(tempfile.gettempdir()) / "snapproxy-snapd-daemon.lock"
# A loopback port nothing listens on: the egress guard proxy.
DEAD_PROXY = "http://127.0.0.1:9"

# ---- messages printed by snap 2.57.6 (see docs/real-client.md) ------------------------------
FETCHING_SNAP = 'Fetching snap "{name}"'
FETCHING_ASSERTIONS = 'Fetching assertions for "{name}"'
ASSERTIONS_ERROR_PREFIX = "error: cannot fetch snap signatures/assertions: "
NOT_FOUND_ERROR = 'error: cannot download snap "{name}": snap not found'
NO_REVISION_ERROR = 'error: cannot download snap "{name}": no snap revision available as specified'
SHA3_MISMATCH_PREFIX = 'error: sha3-384 mismatch for "{name}": '
# The causes after ASSERTIONS_ERROR_PREFIX that mean "a trust root other than Canonical's":
# a self-signed root key (the simulator's case), a key claiming a trusted authority but
# signed by another key, or a signer the database cannot find.
TRUST_FAILURES = (
    "circular assertions are not expected",
    "failed signature verification",
    "no matching public key",
    "is not signed by a directly trusted authority",
)
_CIRCULAR_KEY = re.compile(r"circular assertions are not expected: account-key \(([^)]+)\)")


def _base_env(home: Path) -> dict[str, str]:
    """A minimal environment: no proxies, fixed locale and time zone, no re-exec."""
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "SNAP_REEXEC": "0",
    }


def _egress_guard(env: dict[str, str], hosts: Iterable[str]) -> None:
    """Send every non-loopback request to a dead loopback proxy (see module docstring)."""
    no_proxy = ",".join(dict.fromkeys(["127.0.0.1", "localhost", "::1", *hosts]))
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[key] = DEAD_PROXY
    env["no_proxy"] = env["NO_PROXY"] = no_proxy


def _host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def require_binary(path: Path) -> None:
    """Skip the calling test when a snapd binary is not installed (CI installs snapd)."""
    if not os.access(path, os.X_OK):
        import pytest

        pytest.skip(f"{path} is not installed (apt-get install snapd)")


# ---- snap download ---------------------------------------------------------------------------


@dataclass
class SnapDownloadResult:
    """What one ``snap download`` run did."""

    name: str
    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    directory: Path
    duration: float
    snap_path: Path | None = None
    sha3_384: str | None = None
    assert_path: Path | None = None
    partial_path: Path | None = None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def error(self) -> str | None:
        """The client's ``error: ...`` line, if any."""
        lines = [line for line in self.stderr.splitlines() if line.startswith("error: ")]
        return lines[-1] if lines else None

    @property
    def revision(self) -> int | None:
        """The revision in the written file name ``<name>_<revision>.snap``."""
        if self.snap_path is None:
            return None
        match = re.fullmatch(re.escape(self.name) + r"_(\d+)\.snap", self.snap_path.name)
        return int(match[1]) if match else None

    @property
    def fetched_snap(self) -> bool:
        """The refresh call answered and the blob passed the sha3-384 check."""
        return self.snap_path is not None and FETCHING_ASSERTIONS.format(name=self.name) in (
            self.stdout
        )

    @property
    def assertions_error(self) -> str | None:
        """The cause after ``error: cannot fetch snap signatures/assertions: ``."""
        error = self.error
        if error is None or not error.startswith(ASSERTIONS_ERROR_PREFIX):
            return None
        return error[len(ASSERTIONS_ERROR_PREFIX) :]

    @property
    def stopped_at_trust_check(self) -> bool:
        """Refresh and download worked; the run failed only when checking assertions
        against the compiled-in (Canonical-only) trust roots."""
        cause = self.assertions_error
        return (
            self.returncode != 0
            and self.fetched_snap
            and cause is not None
            and any(marker in cause for marker in TRUST_FAILURES)
        )

    @property
    def circular_key(self) -> str | None:
        """The self-signed root key named by a "circular assertions" failure."""
        match = _CIRCULAR_KEY.search(self.assertions_error or "")
        return match[1] if match else None

    @property
    def not_found(self) -> bool:
        return self.returncode != 0 and self.error == NOT_FOUND_ERROR.format(name=self.name)

    @property
    def no_revision(self) -> bool:
        return self.returncode != 0 and self.error == NO_REVISION_ERROR.format(name=self.name)

    @property
    def sha3_mismatch(self) -> bool:
        error = self.error or ""
        return error.startswith(SHA3_MISMATCH_PREFIX.format(name=self.name))

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.command)}  (in {self.directory}, exit {self.returncode})\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def snap_download(
    store_url: str,
    name: str,
    *,
    cwd: Path,
    channel: str | None = None,
    revision: int | None = None,
    arch: str | None = None,
    use_ubuntu_store_url: bool = False,
    timeout: float = 120,
    extra_args: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    debug_http: bool = False,
    block_egress: bool = True,
) -> SnapDownloadResult:
    """Run ``snap download NAME`` in ``cwd`` with the store at ``store_url``.

    ``snap download`` skips the transfer when ``<name>_<rev>.snap`` with the right size and
    digest is already in ``cwd``, so give each call a fresh directory when the transfer
    matters. ``use_ubuntu_store_url`` sets ``UBUNTU_STORE_URL`` instead of
    ``SNAPPY_FORCE_API_URL``; ``arch`` sets ``UBUNTU_STORE_ARCH``.
    """
    require_binary(SNAP_BIN)
    cwd = Path(cwd)
    cwd.mkdir(parents=True, exist_ok=True)
    command = [str(SNAP_BIN), "download"]
    if channel is not None:
        command.append(f"--channel={channel}")
    if revision is not None:
        command.append(f"--revision={revision}")
    command += [*extra_args, name]
    with tempfile.TemporaryDirectory(prefix="snap-home-") as home:
        env = _base_env(Path(home))
        env["UBUNTU_STORE_URL" if use_ubuntu_store_url else "SNAPPY_FORCE_API_URL"] = store_url
        if arch is not None:
            env["UBUNTU_STORE_ARCH"] = arch
        if debug_http:
            env.update(SNAPD_DEBUG="1", SNAPD_DEBUG_HTTP="7")
        if block_egress:
            _egress_guard(env, [_host_of(store_url)])
        env.update(extra_env or {})
        started = time.monotonic()
        done = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        duration = time.monotonic() - started
    result = SnapDownloadResult(
        name=name,
        command=command,
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        directory=cwd,
        duration=duration,
    )
    snap_path = _newest(cwd.glob(f"{glob_escape(name)}_*.snap"))
    if snap_path is not None:
        result.snap_path = snap_path
        result.sha3_384 = sha3_384_file(snap_path)[0]
        assert_path = snap_path.with_suffix(".assert")
        result.assert_path = assert_path if assert_path.exists() else None
    result.partial_path = _newest(cwd.glob(f"{glob_escape(name)}_*.snap.partial"))
    return result


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _newest(paths: Iterable[Path]) -> Path | None:
    found = sorted(paths, key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


# ---- the daemon ------------------------------------------------------------------------------


class SnapdError(RuntimeError):
    """snapd could not be started or stopped (the message carries its log tail)."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def snapd_api(method: str, path: str, *, timeout: float = 10) -> tuple[int, dict[str, Any]]:
    """One request to snapd's REST API on /run/snapd.socket: (status, JSON body)."""
    connection = _UnixHTTPConnection(SNAPD_SOCKET, timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    return response.status, json.loads(body) if body else {}


def _socket_answers() -> bool:
    try:
        status, _ = snapd_api("GET", "/v2/system-info", timeout=2)
    except (OSError, ValueError, http.client.HTTPException):
        return False
    return status == 200


def _mounts_under(paths: Iterable[Path]) -> list[str]:
    roots = [str(path).rstrip("/") + "/" for path in paths]
    found: list[str] = []
    with contextlib.suppress(OSError), open("/proc/self/mounts") as mounts:
        for line in mounts:
            target = line.split()[1].replace("\\040", " ")
            if any((target + "/").startswith(root) for root in roots):
                found.append(target)
    return found


_THREAD_LOCK = threading.Lock()
_OWNER: list[int] = []  # thread id of the holder, while held


@contextlib.contextmanager
def _exclusive(timeout: float) -> Iterator[None]:
    """One daemon per machine: a thread lock plus an flock shared by all processes."""
    if _OWNER and _OWNER[0] == threading.get_ident():
        raise SnapdError(
            "this thread already runs a snapd test daemon (only one can run at a time): "
            "stop it before starting another, e.g. scope the first fixture narrower"
        )
    if not _THREAD_LOCK.acquire(timeout=timeout):
        raise SnapdError(f"another snapd test daemon held the lock for {timeout}s")
    _OWNER.append(threading.get_ident())
    try:
        with LOCK_FILE.open("a") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise SnapdError(
                            f"{LOCK_FILE} stayed locked for {timeout}s (another test run "
                            "has a snapd running)"
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        _OWNER.clear()
        _THREAD_LOCK.release()


@dataclass
class SnapdHandle:
    """A running snapd: run the real ``snap`` client through it."""

    store_url: str
    log_path: Path
    process: subprocess.Popen[bytes]
    home: Path
    client_env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, timeout: float = 120, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``/usr/bin/snap ARGS`` (through this daemon), output captured as text."""
        if self.process.poll() is not None:
            raise SnapdError(f"snapd exited with {self.process.returncode}:\n{self.log_tail()}")
        return subprocess.run(
            [str(SNAP_BIN), *args],
            env=self.client_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            stdin=subprocess.DEVNULL,
            cwd=self.home,
        )

    def api(self, method: str, path: str, timeout: float = 10) -> tuple[int, dict[str, Any]]:
        return snapd_api(method, path, timeout=timeout)

    def changes(self) -> list[dict[str, Any]]:
        _, body = self.api("GET", "/v2/changes?select=all")
        return list(body.get("result") or [])

    def downloaded(self, name: str, revision: int) -> Path:
        """Where the daemon keeps a downloaded blob (kept even when the install fails
        later, at the assertion check)."""
        return SNAPD_SNAPS_DIR / f"{name}_{revision}.snap"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


class SnapdDaemon:
    """Start ``/usr/lib/snapd/snapd`` without systemd, pointed at ``store_url``.

    On start: take the machine-wide lock, refuse if another snapd answers on
    /run/snapd.socket or snaps are mounted, snapshot /var/lib/snapd, /var/cache/snapd and
    /snap, remove snapd's volatile state (so the daemon seeds afresh), start snapd and wait
    for the socket and for seeding. On stop: SIGTERM (SIGKILL after ``stop_timeout``),
    remove the sockets, restore the snapshot exactly, release the lock.
    """

    def __init__(
        self,
        store_url: str,
        *,
        log_path: Path,
        debug_http: bool = True,
        block_egress: bool = True,
        extra_env: Mapping[str, str] | None = None,
        start_timeout: float = 60,
        stop_timeout: float = 30,
        lock_timeout: float = 900,
    ) -> None:
        self.store_url = store_url
        self.log_path = Path(log_path)
        self.debug_http = debug_http
        self.block_egress = block_egress
        self.extra_env = dict(extra_env or {})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.lock_timeout = lock_timeout
        self.handle: SnapdHandle | None = None
        self._stack: contextlib.ExitStack | None = None
        self._workdir: Path | None = None

    def daemon_env(self, home: Path) -> dict[str, str]:
        env = _base_env(home)
        env.update(
            SNAPPY_FORCE_API_URL=self.store_url,
            # No error reports, no catalog refresh, "testing" in the User-Agent.
            SNAPPY_TESTING="1",
            # snapd goes to "socket activation standby" after 5 s idle when no snap is
            # installed; without systemd nobody would wake it again.
            SNAPD_STANDBY_WAIT="87600h",
            SNAPD_DEBUG="1",
        )
        if self.debug_http:
            env["SNAPD_DEBUG_HTTP"] = "7"
        if self.block_egress:
            _egress_guard(env, [_host_of(self.store_url)])
        env.update(self.extra_env)
        return env

    def start(self) -> SnapdHandle:
        require_binary(SNAPD_BIN)
        require_binary(SNAP_BIN)
        if os.geteuid() != 0:
            raise SnapdError("snapd must run as root (it owns /var/lib/snapd and /run)")
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(_exclusive(self.lock_timeout))
            self._check_machine()
            workdir = Path(tempfile.mkdtemp(prefix="snapproxy-snapd-"))
            stack.callback(shutil.rmtree, workdir, True)
            snapshot = workdir / "state.tar"
            self._snapshot(snapshot)
            stack.callback(self._restore, snapshot)
            self._fresh_state()
            home = workdir / "home"
            home.mkdir()
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("ab") as log:
                process = subprocess.Popen(
                    [str(SNAPD_BIN)],
                    env=self.daemon_env(home),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd="/",
                )
            stack.callback(self._terminate, process)
            handle = SnapdHandle(self.store_url, self.log_path, process, home, _base_env(home))
            self._wait_ready(handle)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        self.handle = handle
        return handle

    def stop(self) -> None:
        stack, self._stack, self.handle = self._stack, None, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> SnapdHandle:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- steps -------------------------------------------------------------------------------

    def _check_machine(self) -> None:
        if _socket_answers():
            raise SnapdError(
                f"another snapd already serves {SNAPD_SOCKET}; stop it first "
                "(systemctl stop snapd.socket snapd.service)"
            )
        mounted = _mounts_under(SNAPD_STATE_DIRS)
        if mounted:
            raise SnapdError(f"refusing to touch snapd state while mounted: {mounted}")
        for stale in (SNAPD_SOCKET, SNAPD_SNAP_SOCKET):
            stale.unlink(missing_ok=True)

    @staticmethod
    def _snapshot(target: Path) -> None:
        present = [str(path.relative_to("/")) for path in SNAPD_STATE_DIRS if path.exists()]
        subprocess.run(
            ["tar", "-C", "/", "--numeric-owner", "-cpf", str(target), *present],
            check=True,
            capture_output=True,
        )

    @staticmethod
    def _restore(snapshot: Path) -> None:
        mounted = _mounts_under(SNAPD_STATE_DIRS)
        if mounted:
            raise SnapdError(f"not restoring snapd state, still mounted: {mounted}")
        for path in SNAPD_STATE_DIRS:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
        subprocess.run(
            ["tar", "-C", "/", "--numeric-owner", "-xpf", str(snapshot)],
            check=True,
            capture_output=True,
        )

    @staticmethod
    def _fresh_state() -> None:
        for name in SNAPD_VOLATILE:
            path = SNAPD_STATE_DIR / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        (SNAPD_SNAPS_DIR / "partial").mkdir(parents=True, exist_ok=True)

    def _wait_ready(self, handle: SnapdHandle) -> None:
        deadline = time.monotonic() + self.start_timeout
        seeded = False
        while time.monotonic() < deadline:
            if handle.process.poll() is not None:
                raise SnapdError(
                    f"snapd exited with {handle.process.returncode} while starting:\n"
                    f"{handle.log_tail()}"
                )
            with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
                status, body = snapd_api("GET", "/v2/snaps/system/conf?keys=seed.loaded")
                result = body.get("result")
                if status == 200 and isinstance(result, dict) and result.get("seed.loaded"):
                    seeded = True
                    break
            time.sleep(0.2)
        if not seeded:
            raise SnapdError(f"snapd not seeded after {self.start_timeout}s:\n{handle.log_tail()}")

    def _terminate(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for path in (SNAPD_SOCKET, SNAPD_SNAP_SOCKET):
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def snapd_daemon(
    store_url: str,
    *,
    log_path: Path,
    debug_http: bool = True,
    block_egress: bool = True,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[SnapdHandle]:
    """``with snapd_daemon(sim.api_url, log_path=tmp_path / "snapd.log") as snapd:``
    ``snapd.run("info", "hello-sim")``."""
    daemon = SnapdDaemon(
        store_url,
        log_path=log_path,
        debug_http=debug_http,
        block_egress=block_egress,
        extra_env=extra_env,
    )
    with daemon as handle:
        yield handle


# ---- comparing output between stores -----------------------------------------------------------

DEFAULT_DROP_FIELDS = ("store-url", "contact")


def normalise_snap_output(
    text: str,
    *,
    store_urls: Iterable[str] = (),
    drop_fields: Iterable[str] = DEFAULT_DROP_FIELDS,
) -> str:
    """Make ``snap info`` / ``snap find`` output comparable between two stores.

    * every URL in ``store_urls`` (with or without a trailing ``/``) becomes ``<store>``;
    * top-level ``field:`` lines named in ``drop_fields`` go (``store-url`` holds the
      store's own base URL in the simulator; ``contact`` may too);
    * trailing blanks on each line and trailing empty lines go.

    Everything else (versions, revisions, channels, tracks, sizes, dates, column layout)
    is kept, because it comes from the store's data and must match.
    """
    urls = sorted({url.rstrip("/") for url in store_urls if url}, key=len, reverse=True)
    drop = tuple(f"{name}:" for name in drop_fields)
    kept: list[str] = []
    for line in text.splitlines():
        if drop and line.startswith(drop):
            continue
        for url in urls:
            line = line.replace(url, "<store>")
        kept.append(line.rstrip())
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n" if kept else ""


def parse_snap_info(text: str) -> dict[str, Any]:
    """The parts of ``snap info`` output that tests look at: top-level ``key: value`` pairs
    and ``channels`` as ``{"latest/stable": {"version", "revision", ...}}`` (``^`` and
    ``--`` entries keep their marker as ``version``)."""
    info: dict[str, Any] = {}
    channels: dict[str, dict[str, Any]] = {}
    section: str | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            key, _, value = line.partition(":")
            section = key
            if value.strip() and value.strip() != "|":
                info[key] = value.strip()
            continue
        if section == "channels":
            name, _, rest = line.strip().partition(":")
            fields = rest.split()
            entry: dict[str, Any] = {"version": fields[0] if fields else ""}
            match = re.search(r"\((\d+)\)", rest)
            if match:
                entry["revision"] = int(match[1])
                date = re.search(r"\d{4}-\d{2}-\d{2}", rest)
                entry["date"] = date[0] if date else None
            channels[name] = entry
    info["channels"] = channels
    return info


def parse_snap_find(text: str) -> list[dict[str, str]]:
    """Rows of ``snap find`` as dicts keyed by the lower-cased column headers."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Name"):
        return []
    header = lines[0]
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    spans = list(zip(starts, [*starts[1:], None], strict=True))
    names = [header[a:b].strip().lower() for a, b in spans]
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in spans]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows
