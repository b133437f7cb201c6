"""`docker compose up`, for real: the home server's path, end to end (issue 16).

A private Docker engine runs the project's docker-compose.yml and Dockerfile, unchanged, with
only the CI override's networking (docker-compose.ci.yml); third-party images are stand-ins
built from Debian's packages (standins/). The simulator, on the host, is the upstream, and
Debian's real ``snap download`` is the client. See conftest.py for how the stack is made.

The tests share one deployment and run in this order: the last ones take the stack down
and up again, and leave it broken on purpose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from shared.settings import SERVICE_NAMES
from tests.compose.stack import Deployment
from tests.compose.timing import step
from tests.support.proxies import DEVICE_HEADERS
from tests.support.sim import SimHandle
from tests.support.snapclient import SnapDownloadResult, snap_download
from tools.snap_store_sim.layout import DataDir

pytestmark = [pytest.mark.compose, pytest.mark.timeout(2400)]

INFRA = ("postgres", "memcached")
EVERY_LONG_RUNNING = (*INFRA, *SERVICE_NAMES, "gateway")


# --- helpers ---------------------------------------------------------------------------------


def started_at(container: dict[str, Any], field: str = "StartedAt") -> datetime:
    """A container's State time (Docker gives nanoseconds: cut to microseconds)."""
    raw = container["State"][field].rstrip("Z")
    whole, _, fraction = raw.partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}")


def blob_requests(sim: SimHandle, file: str) -> int:
    """How many times the simulator's CDN was asked for this blob."""
    return int(sim.stats()["blobs"].get(file, {}).get("requests", 0))


def download(deployment: Deployment, name: str, label: str) -> SnapDownloadResult:
    """The real ``snap download NAME`` through the gateway, into a directory of its own."""
    where = deployment.workdir / "downloads" / label
    with step(f"snap download {name} ({label})"):
        result = snap_download(deployment.stack.gateway_url + "/", name, cwd=where)
    # Against any store but Canonical's, snap download stops at the trust check of the
    # assertions, after the download and its sha3-384 check (docs/real-client.md).
    assert result.fetched_snap and (result.returncode == 0 or result.stopped_at_trust_check), (
        result.describe() + deployment.stack.diagnostics()
    )
    return result


def assert_right_bytes(
    sim: SimHandle, result: SnapDownloadResult, revision: dict[str, Any]
) -> None:
    assert result.snap_path is not None
    assert result.snap_path.name == f"{result.name}_{revision['revision']}.snap"
    assert result.sha3_384 == revision["sha3-384"]
    reference = DataDir(sim.data_dir).snaps / revision["file"]
    assert result.snap_path.read_bytes() == reference.read_bytes()


def admin_get(deployment: Deployment, path: str) -> Any:
    response = httpx.get(
        deployment.stack.gateway_url + path,
        headers={"Authorization": f"Bearer {deployment.admin_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def cache_entry(deployment: Deployment, name: str) -> dict[str, Any] | None:
    entries = admin_get(deployment, "/v1/cache/entries")["entries"]
    return next((entry for entry in entries if entry["name"] == name), None)


def snap_hits(deployment: Deployment, name: str) -> int:
    stats = admin_get(deployment, "/v1/cache/stats")
    return int(stats["snaps"].get(name, {}).get("hits", 0))


# --- first start -----------------------------------------------------------------------------


def test_migrate_runs_before_the_services_and_every_healthcheck_passes(
    deployment: Deployment,
) -> None:
    stack = deployment.stack
    (migrate,) = stack.containers("migrate")
    assert migrate["State"]["Status"] == "exited"
    assert migrate["State"]["ExitCode"] == 0, stack.logs("migrate")
    migrated_at = started_at(migrate, "FinishedAt")
    for service in SERVICE_NAMES:
        (container,) = stack.containers(service)
        assert started_at(container) >= migrated_at, f"{service} started before migrate ended"
    (postgres,) = stack.containers("postgres")
    assert started_at(postgres) <= started_at(migrate)
    for service in EVERY_LONG_RUNNING:
        assert stack.health(service) == "healthy", stack.diagnostics()
    (gateway,) = stack.containers("gateway")
    assert all(
        started_at(gateway) >= started_at(container)
        for service in SERVICE_NAMES
        for container in stack.containers(service)
    )


def test_status_check_through_the_gateway_is_200(deployment: Deployment) -> None:
    url = deployment.stack.gateway_url
    response = httpx.get(f"{url}/_status/check", timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body["services"]) == set(SERVICE_NAMES)
    assert all(service["ok"] for service in body["services"].values()), body
    # nginx routes to each container, by the name the compose file gives it.
    for service in SERVICE_NAMES:
        answer = httpx.get(f"{url}/_status/{service}/check", timeout=30)
        assert answer.status_code == 200, (service, answer.text)
        assert answer.json()["checks"]["database"]["ok"], answer.text


def test_the_simulator_on_the_host_is_the_upstream(deployment: Deployment) -> None:
    sim = deployment.sim
    before = sim.stats()["requests"].get("GET /v2/snaps/info/{name}", 0)
    response = httpx.get(
        f"{deployment.stack.gateway_url}/v2/snaps/info/tiny-tool",
        headers=DEVICE_HEADERS,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    snap_id = next(s["snap-id"] for s in sim.catalogue()["snaps"] if s["name"] == "tiny-tool")
    assert response.json()["snap-id"] == snap_id
    assert sim.stats()["requests"].get("GET /v2/snaps/info/{name}", 0) == before + 1


# --- downloads -------------------------------------------------------------------------------


def test_snap_download_through_the_gateway_gives_the_right_bytes(deployment: Deployment) -> None:
    sim = deployment.sim
    revision = sim.revision("hello-sim", 1)
    assert blob_requests(sim, revision["file"]) == 0
    result = download(deployment, "hello-sim", "first")
    assert_right_bytes(sim, result, revision)
    assert blob_requests(sim, revision["file"]) == 1, "fetched upstream exactly once"
    entry = cache_entry(deployment, "hello-sim")
    assert entry is not None and entry["sha3-384"] == revision["sha3-384"]


def test_a_second_download_is_a_cache_hit(deployment: Deployment) -> None:
    sim = deployment.sim
    revision = sim.revision("hello-sim", 1)
    hits = snap_hits(deployment, "hello-sim")
    result = download(deployment, "hello-sim", "second")
    assert_right_bytes(sim, result, revision)
    assert blob_requests(sim, revision["file"]) == 1, "a hit must not go upstream"
    assert snap_hits(deployment, "hello-sim") == hits + 1


# --- restarts, down and up -------------------------------------------------------------------


def test_restarting_downloads_keeps_the_cache(deployment: Deployment) -> None:
    stack, sim = deployment.stack, deployment.sim
    revision = sim.revision("tiny-tool", 1)
    download(deployment, "tiny-tool", "before-restart")
    assert blob_requests(sim, revision["file"]) == 1
    (before,) = stack.containers("downloads")
    with step("compose restart downloads, until healthy again"):
        stack.restart("downloads")
        stack.wait_healthy("downloads")
    (after,) = stack.containers("downloads")
    assert started_at(after) > started_at(before), "downloads was not restarted"
    result = download(deployment, "tiny-tool", "after-restart")
    assert_right_bytes(sim, result, revision)
    assert blob_requests(sim, revision["file"]) == 1, "the restart lost the cached blob"


def test_up_after_a_change_migrates_first_then_recreates_the_services(
    deployment: Deployment,
) -> None:
    # docs/docker.md's upgrade and .env paths: `up -d --wait` again, and `run --rm migrate`.
    stack = deployment.stack
    (old_migrate,) = stack.containers("migrate")
    old_ids = {service: stack.containers(service)[0]["Id"] for service in SERVICE_NAMES}
    stack.write_env(SNAPPROXY_LOG_LEVEL="debug")
    with step("compose up --wait after a change to .env"):
        stack.up()
    (migrate,) = stack.containers("migrate")
    assert started_at(migrate) > started_at(old_migrate, "FinishedAt"), "migrate did not run"
    assert migrate["State"]["ExitCode"] == 0, stack.logs("migrate")
    for service in SERVICE_NAMES:
        (container,) = stack.containers(service)
        assert container["Id"] != old_ids[service], f"{service} was not recreated"
        assert started_at(container) >= started_at(migrate, "FinishedAt")
        assert "SNAPPROXY_LOG_LEVEL=debug" in container["Config"]["Env"]
    response = httpx.get(f"{stack.gateway_url}/_status/check", timeout=30)
    assert response.status_code == 200, response.text
    with step("compose run --rm migrate"):
        stack.compose("run", "--rm", "migrate")


def test_down_then_up_keeps_the_database_and_the_cache_volume(deployment: Deployment) -> None:
    stack, sim = deployment.stack, deployment.sim
    revision = sim.revision("mid-app", 1)
    download(deployment, "mid-app", "before-down")
    entry = cache_entry(deployment, "mid-app")
    assert entry is not None
    revisions_known = stack.psql("SELECT count(*) FROM snaprevs.snap_revisions")
    assert int(revisions_known) > 0
    (old_postgres,) = stack.containers("postgres")
    with step("backup: pg_dump, as docs/docker.md says"):
        listing = stack.compose(
            "exec", "-T", "postgres", "sh", "-c",
            "pg_dump -U snapproxy -d snapproxy --format=custom > /tmp/backup.dump"
            " && pg_restore --list /tmp/backup.dump",
        ).stdout  # fmt: skip
    assert "TABLE DATA snapdownloads cache_entries" in listing, listing

    with step("compose down (volumes kept)"):
        stack.down()
    for service in EVERY_LONG_RUNNING:
        assert stack.containers(service) == [], f"{service} survived down"
    # The volumes are still there, named as docs/docker.md says (the project name from .env).
    assert {stack.volume(name)["Name"] for name in ("pgdata", "cache")} == {
        "snapproxy_pgdata",
        "snapproxy_cache",
    }
    with step("compose up --wait, on the kept volumes"):
        stack.up()

    (new_postgres,) = stack.containers("postgres")
    assert new_postgres["Id"] != old_postgres["Id"], "down did not remove the containers"
    assert stack.psql("SELECT count(*) FROM snaprevs.snap_revisions") == revisions_known
    kept = cache_entry(deployment, "mid-app")
    assert kept is not None, "down/up lost the cache entry (database)"
    assert (kept["stored-at"], kept["sha3-384"]) == (entry["stored-at"], entry["sha3-384"])
    result = download(deployment, "mid-app", "after-up")
    assert_right_bytes(sim, result, revision)
    assert blob_requests(sim, revision["file"]) == 1, "down/up lost the cached blob"
    # The database and the volume agree: every entry's blob is there, with its digest.
    verify = stack.compose("exec", "-T", "downloads", "snap-proxy", "cache", "verify").stdout
    assert "3 blobs verified, 0 dropped" in verify, verify


def test_a_broken_database_password_makes_up_fail_naming_the_service(
    deployment: Deployment,
) -> None:
    stack = deployment.stack
    password = stack.settings["POSTGRES_PASSWORD"]
    with step("compose down"):
        stack.down()
    # The role's password was set when pgdata was created; .env now says another one.
    stack.write_env(POSTGRES_PASSWORD=password + "-wrong")
    with step("compose up --wait with a wrong POSTGRES_PASSWORD (fails)"):
        result = stack.up(check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert 'service "migrate" didn\'t complete successfully' in output, output
    migrate_log = stack.logs("migrate")
    assert "password authentication failed" in migrate_log, migrate_log
    assert "SNAPPROXY_DATABASE_URL" in migrate_log, migrate_log
    assert password not in migrate_log, "the log shows the password"
    assert stack.health("postgres") == "healthy"
    for service in (*SERVICE_NAMES, "gateway"):
        running = [c for c in stack.containers(service) if c["State"]["Running"]]
        assert running == [], f"{service} started although migrate failed"
    # docs/docker.md's way out: give the role the password .env now has.
    stack.psql(f"ALTER ROLE snapproxy PASSWORD '{password}-wrong'")
    with step("compose run --rm migrate, after ALTER ROLE"):
        fixed = stack.compose("run", "--rm", "migrate", check=False)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
