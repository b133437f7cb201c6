"""The device-session request (store API reference 3.8) as snapd sends it: what the route
accepts, and what the OpenAPI document shows. The body is relayed byte-exact, so fields the
proxy does not read pass through."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SessionRequest(BaseModel):
    """The body of ``POST /api/v1/snaps/auth/sessions``: three encoded assertions or
    requests, each a non-empty string."""

    model_config = ConfigDict(strict=True, extra="allow")

    device_session_request: str = Field(alias="device-session-request", min_length=1)
    serial_assertion: str = Field(alias="serial-assertion", min_length=1)
    model_assertion: str = Field(alias="model-assertion", min_length=1)
