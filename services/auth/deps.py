"""The auth service's parts, as typed FastAPI dependencies (attached by ``create_app``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.auth.children import ChildRegistry
from services.auth.service import AuthService
from shared.deps import SettingsDep, dependency

AuthServiceDep = Annotated[AuthService, Depends(dependency(AuthService))]
ChildRegistryDep = Annotated[ChildRegistry, Depends(dependency(ChildRegistry))]


async def get_device_limit(settings: SettingsDep) -> int | None:
    """proxy.device-limit as it is now (a live key: ``snap-proxy config`` changes it in every
    replica within seconds); None for no limit."""
    return settings.device_limit or None


DeviceLimitDep = Annotated[int | None, Depends(get_device_limit)]
