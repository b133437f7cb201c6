"""Typed FastAPI dependencies on what a service's app holds, and on who is asking.

A service's objects are attached to its app by type in its ``create_app`` (``shared.app``
``attach``); routes get them through :func:`dependency` (each service's ``deps.py`` names
them), never from ``app.state``. The shared ones live here: the resources and settings, one
database session per request, the admin and internal gates, the client's view.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shared.admin import check_admin_authorization
from shared.app import Resources, part_of
from shared.config.live import LiveSettings
from shared.http import client_view, public_base_url
from shared.internal import HEADER as INTERNAL_HEADER
from shared.settings import Settings

Part = TypeVar("Part")


def dependency(kind: type[Part]) -> Callable[[Request], Awaitable[Part]]:
    """A dependency that returns the ``kind`` object attached to the request's app."""

    # async: FastAPI runs a plain ``def`` dependency in its thread pool, on every request.
    async def attached(request: Request) -> Part:
        return part_of(request.app, kind)

    attached.__name__ = f"get_{kind.__name__}"
    return attached


ResourcesDep = Annotated[Resources, Depends(dependency(Resources))]


async def get_settings(resources: ResourcesDep) -> Settings:
    """The settings as they are now (``LiveSettings.current``): live keys set with
    ``snap-proxy config`` show here within seconds, in every replica."""
    return resources.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_live_settings(resources: ResourcesDep) -> LiveSettings:
    """The object that follows the configuration, for parts that keep it past a request."""
    return resources.live


LiveSettingsDep = Annotated[LiveSettings, Depends(get_live_settings)]


async def get_session(resources: ResourcesDep) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: commit on success, roll back on error."""
    async with resources.sessionmaker() as session, session.begin():
        yield session


# scope="function": committed before the answer is sent. FastAPI's default ("request") runs
# the code after ``yield`` once the answer is out: a caller could read before the commit, and
# be told 2xx for a transaction that then fails.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def require_admin(request: Request, settings: SettingsDep) -> None:
    """The request carries ``Authorization: Bearer <admin token>`` (``shared.admin``).

    ``shared.admission`` already checked it before the body was read; routes say so too."""
    check_admin_authorization(settings, request.headers.get("authorization"))


async def require_internal(request: Request, resources: ResourcesDep) -> None:
    """The caller is another snapproxy service (``shared.internal``); checked before the body
    is read by ``shared.admission``, and here again by every internal route."""
    await resources.internal_secret.check(request.headers.get(INTERNAL_HEADER))


async def get_public_url(request: Request, settings: SettingsDep) -> str:
    """Where clients reach the proxy (``shared.http.public_base_url``)."""
    return public_base_url(request, settings)


async def get_client_address(request: Request, settings: SettingsDep) -> str | None:
    """The client's address, or the one a trusted proxy (the gateway) says it saw."""
    return client_view(request, settings).address


PublicUrlDep = Annotated[str, Depends(get_public_url)]
ClientAddressDep = Annotated[str | None, Depends(get_client_address)]
