"""Connecting to PostgreSQL as the Snap Store Proxy's setup does: on an authentication
failure, say the guide's line and ask for the password, up to three times.

The password goes into the URL that is returned (kept in the bootstrap file by the caller);
it is never printed: every message shows the URL without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import URL

from shared.db import create_engine, ping_database
from shared.settings import Settings

ATTEMPTS = 3
AUTH_ERROR = (
    "Authentication error with user {user}. Check the user name and password and that the "
    "user has the LOGIN privilege."
)
PROMPT = "Please enter password for database user {user} (attempt {attempt} of {attempts}): "


class ConnectError(Exception):
    """The database cannot be used; the message is one line for the admin."""


def shown(url: URL) -> str:
    """``url`` as messages show it: no password, no driver."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def plain_text(url: URL) -> str:
    """``url`` as the admin writes it (``postgresql://``), password included: for the
    bootstrap file only."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=False)


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    if text:
        return text.splitlines()[0]
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__


def is_auth_error(exc: BaseException) -> bool:
    """Whether PostgreSQL refused the login (wrong password, no such role, no LOGIN: class
    28), through SQLAlchemy's wrapping or not."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, asyncpg.InvalidAuthorizationSpecificationError):
            return True
        if str(getattr(current, "sqlstate", "") or "").startswith("28"):
            return True
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return False


async def _ping(url: URL, settings: Settings) -> None:
    engine = create_engine(settings, application_name="snap-proxy-config", url=url)
    try:
        await ping_database(engine, settings.db_connect_timeout + 1)
    finally:
        await engine.dispose()


def async_url(text: str, settings: Settings) -> URL:
    """``text`` with the async driver snapproxy connects with."""
    return Settings.model_construct(database_url=text, data_dir=settings.data_dir).sqlalchemy_url


def connect_asking_password(
    text: str,
    settings: Settings,
    echo: Callable[[str], None],
    prompt_secret: Callable[[str], str] | None,
) -> URL:
    """The URL of ``text`` (async driver) once a connection to it answers, with the password
    the admin typed if the first try failed to authenticate. ConnectError when it cannot
    connect, or after the last attempt (or without ``prompt_secret``, or on end of input)."""
    url = async_url(text, settings)
    for attempt in range(ATTEMPTS + 1):
        try:
            asyncio.run(_ping(url, settings))
            return url
        except Exception as exc:
            if not is_auth_error(exc):
                raise ConnectError(f"cannot connect to {shown(url)}: {first_line(exc)}") from None
        user = url.username or ""
        if attempt == 0:
            echo(AUTH_ERROR.format(user=user))
        if attempt == ATTEMPTS or prompt_secret is None:
            break
        try:
            asked = PROMPT.format(user=user, attempt=attempt + 1, attempts=ATTEMPTS)
            password = prompt_secret(asked)
        except EOFError:
            raise ConnectError(f"no password given for database user {user}") from None
        url = url.set(password=password)
    tries = f" after {ATTEMPTS} attempts" if prompt_secret is not None else ""
    raise ConnectError(f"cannot log in to {shown(url)} as {user}{tries}")
