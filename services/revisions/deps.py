"""The revisions service's parts, as typed FastAPI dependencies (attached by ``create_app``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.revisions.service import RecordPolicy
from shared.cache import Cache
from shared.deps import ResourcesDep, dependency

RecordPolicyDep = Annotated[RecordPolicy, Depends(dependency(RecordPolicy))]


async def get_cache(resources: ResourcesDep) -> Cache:
    return resources.cache


CacheDep = Annotated[Cache, Depends(get_cache)]
