"""Static checks of the container deployment: docker-compose.yml, Dockerfile, .env.example.

Nothing here starts a container (tests/compose/ runs the stack for real, on a private
Docker engine). The compose file is loaded with PyYAML and validated against the Compose
Specification's JSON schema, then checked for the invariants the deployment relies on (one
image for every service, health-gated start order, scalable services, only the gateway
publishing a port, named volumes for the database and the download cache).

Provenance of ``tests/fixtures/compose-spec.json``: a verbatim copy (74,133 bytes) of
``schema/compose-spec.json`` from https://github.com/compose-spec/compose-spec at
commit 00655e2222608fa6eaecdf12ac5195889ca2244a (the JSON schema Docker Compose
validates against; docker/compose vendors the same file). To refresh it, replace the
file with a newer copy of that path; the tests here only rely on draft-07 semantics.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA_FILE = Path(__file__).resolve().parent / "fixtures" / "compose-spec.json"

APP_SERVICES = ("auth", "devicegw", "revisions", "assertions", "downloads")
DATA_DIR = "/var/lib/snapproxy"
CACHE_DIR = "/var/lib/snapproxy/cache"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ...
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<arg>[^}]*)\}")
_ENV_LINE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$")


# --- helpers -------------------------------------------------------------------------


def _compose_text() -> str:
    return COMPOSE_FILE.read_text()


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(_compose_text())
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _env_example() -> dict[str, str]:
    values = {}
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        assert match, f".env.example has a line that is not KEY=value: {raw!r}"
        values[match["name"]] = match["value"]
    return values


def _compose_variables() -> set[str]:
    return {match["name"] for match in _INTERPOLATION.finditer(_compose_text())}


class MissingVariable(Exception):
    pass


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """Apply Compose's variable interpolation (the forms this file uses) to ``value``."""
    if isinstance(value, dict):
        return {key: _interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"]
        current = env.get(name)
        unset_or_empty = not current if op.startswith(":") else current is None
        if op.endswith("-"):
            return arg if unset_or_empty else str(current)
        if op.endswith("?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {arg}")
            return str(current)
        if op.endswith("+"):
            return "" if unset_or_empty else arg
        return current or ""

    return _INTERPOLATION.sub(substitute, value)


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """``depends_on`` as {service: condition}, whichever syntax the file uses."""
    raw = service.get("depends_on", {})
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in raw.items()}


def _healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def _volume_mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Service volumes in long syntax: {type, source, target, read_only}."""
    mounts = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            mounts.append(entry)
            continue
        parts = entry.split(":")
        source, target = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else "rw"
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        mounts.append(
            {
                "type": kind,
                "source": source,
                "target": target,
                "read_only": "ro" in mode.split(","),
            }
        )
    return mounts


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"not exec (JSON) form: {arguments}"
    return value


# --- the Compose Specification schema --------------------------------------------------


def test_schema_fixture_is_the_compose_specification() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["title"] == "Compose Specification"
    assert schema["$id"] == "compose_spec.json"
    jsonschema.Draft7Validator.check_schema(schema)
    # The parts of the spec the checks below lean on.
    service = schema["definitions"]["service"]["properties"]
    for key in ("depends_on", "healthcheck", "ports", "volumes", "container_name", "command"):
        assert key in service


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(_compose()), key=lambda error: list(error.path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, error.path)) or '<root>'}: {error.message}" for error in errors
    )


def test_compose_file_matches_the_specification_after_interpolation() -> None:
    env = {**_env_example(), "POSTGRES_PASSWORD": "example-password"}
    interpolated = _interpolate(_compose(), env)
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft7Validator(schema).validate(interpolated)
    assert interpolated["services"]["gateway"]["ports"] == ["80:80", "443:443"]
    database_url = interpolated["services"]["auth"]["environment"]["SNAPPROXY_DATABASE_URL"]
    assert database_url == "postgresql://snapproxy:example-password@postgres:5432/snapproxy"


def test_an_unset_postgres_password_stops_compose() -> None:
    env = {**_env_example(), "POSTGRES_PASSWORD": ""}
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        _interpolate(_compose(), env)


def test_compose_file_has_only_top_level_keys_compose_1_29_accepts() -> None:
    # Debian 12's docker-compose 1.29 rejects `name:` (and any key it does not know); the
    # project name comes from COMPOSE_PROJECT_NAME in .env, which v1 and v2 both read.
    known = {"services", "volumes", "networks", "configs", "secrets"}
    unknown = {key for key in _compose() if key not in known and not key.startswith("x-")}
    assert not unknown, f"docker-compose 1.29 rejects top-level {sorted(unknown)}"
    assert _env_example()["COMPOSE_PROJECT_NAME"] == "snapproxy"


def test_the_anchor_of_service_defaults_exists() -> None:
    assert "x-service-defaults" in _compose()
    assert re.search(r"^x-service-defaults:\s*&\S+", _compose_text(), re.MULTILINE)


# --- scaling: no fixed names, no host ports --------------------------------------------


def test_no_service_sets_container_name() -> None:
    for name, service in _services().items():
        assert "container_name" not in service, f"{name} sets container_name"


def test_only_the_gateway_publishes_ports() -> None:
    for name, service in _services().items():
        if name == "gateway":
            continue
        assert "ports" not in service, f"{name} publishes host ports; only gateway may"


def test_the_expected_services_exist() -> None:
    expected = {"postgres", "memcached", "migrate", "gateway", *APP_SERVICES}
    assert set(_services()) == expected


# --- the five snapproxy services ---------------------------------------------------------


def test_the_app_services_match_the_cli_service_names() -> None:
    from shared.settings import SERVICE_NAMES

    assert set(SERVICE_NAMES) == set(APP_SERVICES)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_its_service_from_the_shared_image(name: str) -> None:
    services = _services()
    service = services[name]
    assert service["command"] == ["serve-service", name, "--host", "0.0.0.0", "--port", "8000"]
    assert "entrypoint" not in service, "the image's ENTRYPOINT (snap-proxy) must be used"
    assert service["image"] == services["migrate"]["image"]
    assert service["build"] == services["migrate"]["build"]
    build = service["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert (ROOT / context / dockerfile).resolve() == DOCKERFILE


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_healthcheck_hits_status_check(name: str) -> None:
    service = _services()[name]
    healthcheck = service["healthcheck"]
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    assert isinstance(test, list)
    assert test[0] == "CMD"
    # The port the check asks is SNAPPROXY_PORT, which must be the one the command serves on.
    assert "http://127.0.0.1:%s/_status/check" in _healthcheck_command(service)
    assert "os.environ.get('SNAPPROXY_PORT', '8000')" in _healthcheck_command(service)
    command = service["command"]
    assert service["environment"]["SNAPPROXY_PORT"] == command[command.index("--port") + 1]
    assert "urllib" in _healthcheck_command(service), "python:3.11-slim has no curl or wget"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_waits_for_its_dependencies(name: str) -> None:
    depends_on = _depends_on(_services()[name])
    assert depends_on.get("postgres") == "service_healthy"
    assert depends_on.get("memcached") == "service_healthy"
    assert depends_on.get("migrate") == "service_completed_successfully"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_is_wired_to_the_other_containers(name: str) -> None:
    environment = _services()[name]["environment"]
    assert "@postgres:5432/snapproxy" in environment["SNAPPROXY_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD" in environment["SNAPPROXY_DATABASE_URL"]
    assert environment["SNAPPROXY_MEMCACHED"] == "memcached:11211"
    assert environment["SNAPPROXY_DATA_DIR"] == DATA_DIR
    assert json.loads(environment["SNAPPROXY_SERVICE_URLS"]) == {
        service: f"http://{service}:8000" for service in APP_SERVICES
    }


def test_migrate_is_a_one_shot_database_upgrade() -> None:
    migrate = _services()["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert _depends_on(migrate) == {"postgres": "service_healthy"}


def test_downloads_keeps_its_cache_on_the_named_volume() -> None:
    mounts = _volume_mounts(_services()["downloads"])
    cache = [mount for mount in mounts if mount["target"] == CACHE_DIR]
    assert len(cache) == 1
    assert cache[0]["type"] == "volume"
    assert cache[0]["source"] == "cache"
    assert not cache[0]["read_only"]


# --- gateway ---------------------------------------------------------------------------


def test_gateway_waits_for_every_service_to_be_healthy() -> None:
    depends_on = _depends_on(_services()["gateway"])
    assert depends_on == dict.fromkeys(APP_SERVICES, "service_healthy")


@pytest.mark.parametrize(
    ("index", "target", "variable"),
    [(0, "80", "SNAPPROXY_HTTP_PORT"), (1, "443", "SNAPPROXY_HTTPS_PORT")],
)
def test_gateway_publishes_http_and_https_configurably(
    index: int, target: str, variable: str
) -> None:
    ports = _services()["gateway"]["ports"]
    assert len(ports) == 2
    published, _, inside = ports[index].rpartition(":")
    assert inside == target
    match = _INTERPOLATION.fullmatch(published)
    assert match, f"the published port should come from a variable: {ports[index]!r}"
    assert match["name"] == variable
    assert match["op"] == ":-"
    assert match["arg"] == target


def test_gateway_mounts_its_config_and_the_cache_read_only() -> None:
    gateway = _services()["gateway"]
    mounts = {mount["target"]: mount for mount in _volume_mounts(gateway)}
    config = mounts["/etc/nginx/nginx.conf"]
    assert config["type"] == "bind"
    assert config["source"] == "./deploy/nginx/nginx.conf"
    assert config["read_only"]
    cache = mounts[CACHE_DIR]
    assert cache["type"] == "volume"
    assert cache["source"] == "cache"
    assert cache["read_only"]
    tls = mounts["/etc/nginx/tls"]  # what render-nginx --tls-dir writes (gateway_tls.py)
    assert tls["source"] == "./deploy/nginx/tls"
    assert tls["read_only"]


def test_gateway_healthcheck_pings_itself() -> None:
    gateway = _services()["gateway"]
    assert gateway["image"].startswith("nginx:")
    assert "http://127.0.0.1/_status/ping" in _healthcheck_command(gateway)


def test_gateway_layout_matches_the_compose_file() -> None:
    from shared.gateway_layouts import compose_layout

    layout = compose_layout()
    assert layout.listen == "80"
    assert layout.cache_dir.rstrip("/") == CACHE_DIR
    for service in APP_SERVICES:
        assert list(layout.upstreams[service]) == [f"{service}:8000"]


def test_the_nginx_config_the_gateway_mounts_exists() -> None:
    config = ROOT / "deploy" / "nginx" / "nginx.conf"
    if not config.exists():
        pytest.skip("deploy/nginx/nginx.conf is not generated yet")
    text = config.read_text()
    for service in APP_SERVICES:
        assert f"server {service}:8000" in text
    assert CACHE_DIR in text
    assert "/_status/ping" in text


# --- postgres, memcached, volumes ------------------------------------------------------


def test_postgres_is_health_checked_and_keeps_data_on_a_named_volume() -> None:
    postgres = _services()["postgres"]
    assert postgres["image"].startswith("postgres:15")
    assert "pg_isready" in _healthcheck_command(postgres)
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    mounts = {mount["target"]: mount for mount in _volume_mounts(postgres)}
    data = mounts["/var/lib/postgresql/data"]
    assert data["type"] == "volume"
    assert data["source"] == "pgdata"


def test_memcached_is_health_checked() -> None:
    memcached = _services()["memcached"]
    assert memcached["image"].startswith("memcached:")
    assert not memcached["healthcheck"].get("disable", False)
    assert "11211" in _healthcheck_command(memcached)


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(_compose()["volumes"])
    assert {"pgdata", "cache"} <= declared
    used = {
        mount["source"]
        for service in _services().values()
        for mount in _volume_mounts(service)
        if mount["type"] == "volume"
    }
    assert used == declared


# --- Dockerfile ------------------------------------------------------------------------


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [arguments for keyword, arguments in _final_stage() if keyword == "USER"]
    assert users, "the runtime stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_dockerfile_image_serves_every_service_through_snap_proxy() -> None:
    stage = _final_stage()
    base = next(arguments for keyword, arguments in stage if keyword == "FROM")
    assert base.split()[0] == "python:3.11-slim"
    entrypoints = [_exec_form(arguments) for keyword, arguments in stage if keyword == "ENTRYPOINT"]
    assert entrypoints[-1] == ["snap-proxy"]
    cmds = [_exec_form(arguments) for keyword, arguments in stage if keyword == "CMD"]
    assert cmds[-1][:2] == ["serve-service", "devicegw"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^snap-proxy\s*=\s*"shared\.cli:main"', pyproject, re.MULTILINE)


def test_dockerfile_layout() -> None:
    stage = _final_stage()
    workdirs = [arguments for keyword, arguments in stage if keyword == "WORKDIR"]
    assert workdirs[-1] == "/app"
    assert ("EXPOSE", "8000") in stage
    env = " ".join(arguments for keyword, arguments in stage if keyword == "ENV")
    assert f"SNAPPROXY_DATA_DIR={DATA_DIR}" in env
    runs = " ".join(arguments for keyword, arguments in stage if keyword == "RUN")
    assert DATA_DIR in runs and "snapproxy" in runs, "the data directory must belong to the user"
    healthchecks = [arguments for keyword, arguments in stage if keyword == "HEALTHCHECK"]
    assert healthchecks and "/_status/ping" in healthchecks[-1]
    assert "urllib" in healthchecks[-1]


def test_dockerfile_installs_the_project_with_pip() -> None:
    runs = [arguments for keyword, arguments in _dockerfile_instructions() if keyword == "RUN"]
    commands = [shlex.split(run) for run in runs]
    assert any(cmd[:2] == ["pip", "wheel"] and "." in cmd for cmd in commands) or any(
        cmd[:2] == ["pip", "install"] and "." in cmd for cmd in commands
    )


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var"} <= patterns
    assert ".env" in patterns or ".env*" in patterns


def test_the_build_context_has_what_pip_install_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    readme = pyproject["project"].get("readme")
    readme_file = readme["file"] if isinstance(readme, dict) else readme
    needed = ["pyproject.toml", "shared", "services", "tools"]
    if readme_file:
        needed.append(readme_file)
    # The wheel's data files (docs/, served at /docs/) must be in the context too.
    data_files = pyproject["tool"]["setuptools"].get("data-files", {})
    needed += sorted({glob.split("/")[0] for globs in data_files.values() for glob in globs})
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for name in needed:
        assert (ROOT / name).exists(), f"`pip install .` in the Dockerfile needs {name}"
        excluded = [pattern for pattern in patterns if fnmatch.fnmatch(name, pattern)]
        assert not excluded, f".dockerignore excludes {name} (by {excluded})"


# --- .env.example ----------------------------------------------------------------------


def test_compose_uses_only_braced_interpolation() -> None:
    # A bare `$NAME` would escape the variable checks below; `$$` is a literal dollar.
    text = _compose_text().replace("$$", "")
    bare = re.findall(r"\$(?!\{)", text)
    assert not bare, "use ${NAME} (or $$ for a literal dollar) in docker-compose.yml"


def test_env_example_documents_every_compose_variable() -> None:
    missing = _compose_variables() - set(_env_example())
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_snapproxy_variables_reach_the_containers() -> None:
    interpolated = _compose_variables()
    passed = {key for service in _services().values() for key in (service.get("environment") or {})}
    unknown = {
        name
        for name in _env_example()
        if name.startswith("SNAPPROXY_") and name not in interpolated and name not in passed
    }
    assert not unknown, f"docker-compose.yml neither uses nor passes {sorted(unknown)}"


def test_env_example_ships_no_password() -> None:
    assert _env_example()["POSTGRES_PASSWORD"] == ""
