"""The health check registry behind every service's ``/_status/check``."""

from __future__ import annotations

import asyncio

import pytest

from shared.health import HealthChecks


async def passes() -> None:
    return None


async def fails() -> None:
    raise RuntimeError("the disk is on fire\nsecond line")


async def hangs() -> None:
    await asyncio.sleep(60)


async def test_a_failing_required_check_fails_the_whole() -> None:
    checks = HealthChecks()
    checks.register("database", passes)
    checks.register("storage", fails)
    healthy, results = await checks.run(timeout=1.0)
    assert not healthy
    assert results["database"]["ok"] is True
    assert results["storage"] == {
        "ok": False,
        "error": "RuntimeError: the disk is on fire",
        "duration_ms": results["storage"]["duration_ms"],
    }
    assert "required" not in results["database"]


async def test_a_check_that_is_not_required_is_reported_only() -> None:
    checks = HealthChecks()
    checks.register("database", passes)
    checks.register("upstream", fails, required=False)
    healthy, results = await checks.run(timeout=1.0)
    assert healthy
    assert results["upstream"]["ok"] is False
    assert results["upstream"]["required"] is False
    assert checks.names == ["database", "upstream"]


async def test_a_check_that_hangs_times_out() -> None:
    checks = HealthChecks()
    checks.register("slow", hangs)
    healthy, results = await checks.run(timeout=0.05)
    assert not healthy
    assert results["slow"]["error"] == "timed out"


def test_a_name_is_registered_once() -> None:
    checks = HealthChecks()
    checks.register("database", passes)
    with pytest.raises(ValueError, match="already registered"):
        checks.register("database", fails, required=False)
