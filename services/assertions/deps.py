"""The assertions service's parts, as typed FastAPI dependencies (attached by ``create_app``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from services.assertions.service import AssertionsService
from shared.deps import dependency

AssertionsDep = Annotated[AssertionsService, Depends(dependency(AssertionsService))]
