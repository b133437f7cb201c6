"""Where the simulator keeps its state inside a data directory.

DIR/
  keys/root.pem, keys/store.pem     RSA signing keys (PEM)
  keys/authority.json               ids of the root and store keys
  keys/access.secret                HMAC key of device sessions and private-blob grants
  asserts/<type>/<k1>,<k2>.assert   one assertion per file, byte-exact
  snaps/<name>_<rev>.snap           the blobs
  catalogue.json                    the snap catalogue (see catalogue.py)
  ready.json                        written by ``serve`` once both servers listen
  .lock                             flock serialising catalogue writers
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_LOCKS: dict[Path, tuple[threading.RLock, list[int]]] = {}
_LOCKS_GUARD = threading.Lock()


class DataDir:
    """Paths of one simulator data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def asserts(self) -> Path:
        return self.root / "asserts"

    @property
    def snaps(self) -> Path:
        return self.root / "snaps"

    @property
    def catalogue(self) -> Path:
        return self.root / "catalogue.json"

    @property
    def ready(self) -> Path:
        return self.root / "ready.json"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def ensure(self) -> None:
        for path in (self.root, self.keys, self.asserts, self.snaps, self.tmp):
            path.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the data directory's writer lock: across processes, re-entrant in one."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _LOCKS_GUARD:
            rlock, depth = _LOCKS.setdefault(self.root, (threading.RLock(), [0]))
        with rlock:
            if depth[0]:
                depth[0] += 1
                try:
                    yield
                finally:
                    depth[0] -= 1
                return
            with open(self.root / ".lock", "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                depth[0] = 1
                try:
                    yield
                finally:
                    depth[0] = 0
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    atomic_write(path, (json.dumps(value, indent=1, sort_keys=True) + "\n").encode())
