"""The proxy's certificate and key as files, for OpenSSL and nginx (under a data or work
directory). Apart from ``shared.tls`` so that writing them needs no ``cryptography``: the
gateway's configuration is rendered by processes that never read a certificate."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CERT_FILE = "proxy.crt"
KEY_FILE = "proxy.key"


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_pair(directory: Path, cert_pem: str, key_pem: str) -> tuple[Path, Path]:
    """The certificate chain and its key as files (what OpenSSL and nginx read)."""
    cert, key = directory / CERT_FILE, directory / KEY_FILE
    write_private(key, key_pem.strip() + "\n")
    write_private(cert, cert_pem.strip() + "\n")
    return cert, key
