"""Build real squashfs ``.snap`` files with mksquashfs."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shared.assertions import sha3_384_file

MKSQUASHFS = os.environ.get("SNAPSIM_MKSQUASHFS", "mksquashfs")
# Fixed timestamps make the same spec produce the same bytes on every build.
SOURCE_DATE_EPOCH = "1700000000"
XZ_LIMIT = 1024 * 1024  # padding is incompressible: xz only costs time on big blobs
SQUASHFS_OVERHEAD = 4096
CHUNK = 1024 * 1024


# mksquashfs processes in flight, so a stopping server can end them.
RUNNING: set[subprocess.Popen[bytes]] = set()


class BuildError(RuntimeError):
    """mksquashfs failed."""


def terminate_builds() -> None:
    for proc in list(RUNNING):
        proc.terminate()


def clean_work_dir(work_dir: Path) -> None:
    """Remove build directories left behind by processes that are gone."""
    if not work_dir.is_dir():
        return
    for entry in work_dir.glob("build-*"):
        pid = entry.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)


@dataclass(frozen=True)
class SnapMeta:
    name: str
    version: str
    summary: str
    description: str
    type: str = "app"
    base: str | None = "core22"
    arch: str = "amd64"
    confinement: str = "strict"

    def snap_yaml(self) -> str:
        def q(value: str) -> str:
            return json.dumps(value)

        lines = [f"name: {self.name}", f"version: {q(self.version)}"]
        lines.append(f"summary: {q(self.summary)}")
        lines.append(f"description: {q(self.description)}")
        if self.type != "app":
            lines.append(f"type: {self.type}")
        if self.base:
            lines.append(f"base: {self.base}")
        lines.append("architectures:")
        lines.append(f"  - {self.arch}")
        lines.append(f"confinement: {self.confinement}")
        lines.append("grade: stable")
        if self.type == "app":
            lines += ["apps:", f"  {self.name}:", f"    command: bin/{self.name}"]
        return "\n".join(lines) + "\n"


def _write_padding(path: Path, size: int, seed: str) -> None:
    rng = random.Random(seed)
    with open(path, "wb") as handle:
        left = size
        while left > 0:
            step = min(CHUNK, left)
            handle.write(rng.randbytes(step))
            left -= step


def build_snap(dest: Path, meta: SnapMeta, size: int, seed: str, work_dir: Path) -> tuple[int, str]:
    """Build ``dest`` (about ``size`` bytes). Returns (file size, sha3-384 hex)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"build-{os.getpid()}-{meta.name}-"
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=prefix) as tmp:
        root = Path(tmp) / "root"
        (root / "meta").mkdir(parents=True)
        (root / "meta" / "snap.yaml").write_text(meta.snap_yaml())
        if meta.type == "app":
            (root / "bin").mkdir()
            script = root / "bin" / meta.name
            script.write_text(f"#!/bin/sh\necho 'Hello from {meta.name} {meta.version}'\n")
            script.chmod(0o755)
        padding = max(0, size - SQUASHFS_OVERHEAD)
        if padding:
            _write_padding(root / "padding.bin", padding, seed)
        out = Path(tmp) / "out.snap"
        comp = "xz" if size <= XZ_LIMIT else "gzip"
        cmd = [
            MKSQUASHFS, str(root), str(out), "-noappend", "-comp", comp,
            "-all-root", "-no-xattrs", "-no-fragments", "-quiet", "-no-progress",
        ]  # fmt: skip
        env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True
        )
        RUNNING.add(proc)
        try:
            _out, err = proc.communicate()
        finally:
            RUNNING.discard(proc)
        if proc.returncode != 0:
            message = err.decode(errors="replace")
            raise BuildError(f"mksquashfs failed ({proc.returncode}): {message}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(out), dest)
    return dest.stat().st_size, sha3_384_file(dest)[0]
