"""A PostgreSQL password as a SCRAM-SHA-256 verifier (what ``pg_authid`` stores).

``CREATE ROLE ... PASSWORD 'SCRAM-SHA-256$...'`` sets a password without the password itself
ever reaching the server, so it cannot end up in the server's log (``log_statement``). libpq
has this as ``PQencryptPasswordConn``; asyncpg and SQLAlchemy have nothing that computes it,
so it is written here, after RFC 5802/7677 and PostgreSQL's ``scram_build_secret``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def scram_sha_256(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The verifier of ``password``:
    ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def new_password() -> str:
    """A password for a service's role: 32 URL-safe characters (never typed by anyone)."""
    return secrets.token_urlsafe(24)
