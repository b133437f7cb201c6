"""The CI override changes only what this machine forces (quick, static: no Docker here).

docker-compose.ci.yml may give each service its own port on 127.0.0.1 on the host network,
map the compose service names to 127.0.0.1, and hand the containers the simulator's settings
and the nginx.conf rendered for those ports. Everything else must stay docker-compose.yml's,
or the compose test would test the override instead of the project's file.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import yaml

from shared.settings import SERVICE_NAMES
from tests.compose.stack import CI_OVERRIDE, COMPOSE_FILE, CiPorts, gateway_conf

SCHEMA = COMPOSE_FILE.parent / "tests" / "fixtures" / "compose-spec.json"
HOST_ONLY = {"network_mode", "extra_hosts"}
ALLOWED_KEYS = {
    "postgres": HOST_ONLY | {"environment", "command"},
    "memcached": HOST_ONLY | {"command", "healthcheck"},
    "migrate": HOST_ONLY | {"environment", "build", "env_file", "volumes"},
    "gateway": HOST_ONLY | {"volumes", "healthcheck"},
    **{
        name: HOST_ONLY | {"environment", "build", "env_file", "volumes", "command"}
        for name in SERVICE_NAMES
    },
}
WIRING = {"SNAPPROXY_DATABASE_URL", "SNAPPROXY_MEMCACHED", "SNAPPROXY_SERVICE_URLS"}


def _load(path: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _services() -> tuple[dict[str, Any], dict[str, Any]]:
    return _load(COMPOSE_FILE)["services"], _load(CI_OVERRIDE)["services"]


def _without_ports(words: list[str], ports: set[str]) -> list[str]:
    """A command with its port numbers and listen addresses blanked out."""
    blanks = {"127.0.0.1", "0.0.0.0", *ports}
    return ["_" if word in blanks else word for word in words]


def test_the_override_matches_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(_load(CI_OVERRIDE))


def test_the_override_touches_only_networking() -> None:
    base, override = _services()
    assert set(override) == set(base)
    for name, service in override.items():
        assert set(service) <= ALLOWED_KEYS[name], f"{name}: {set(service) - ALLOWED_KEYS[name]}"
        assert service["network_mode"] == "host"
        assert all(entry.endswith(":127.0.0.1") for entry in service["extra_hosts"])
        if "build" in service:
            assert service["build"] == {"network": "host"}
    # Mounts: the simulator's files, read-only, and the gateway's rendered config.
    for name in ("migrate", *SERVICE_NAMES):
        assert override[name]["volumes"] == [
            "${SNAPPROXY_CI_SIM_DIR:?the compose test sets this}:${SNAPPROXY_CI_SIM_DIR}:ro"
        ]
    (gateway_conf_mount,) = override["gateway"]["volumes"]
    assert gateway_conf_mount.endswith(":/etc/nginx/nginx.conf:ro")


def test_the_override_changes_only_ports_in_commands_and_checks() -> None:
    base, override = _services()
    ports = CiPorts.from_override()
    blanks = {str(port) for port in ports.all()} | {"8000"}
    for name in SERVICE_NAMES:
        assert _without_ports(override[name]["command"], blanks) == _without_ports(
            base[name]["command"], blanks
        ), name
    # memcached: the image's command, plus where to listen.
    memcached = override["memcached"]["command"]
    assert memcached == [
        *base["memcached"]["command"],
        "-l",
        "127.0.0.1",
        "-p",
        str(ports.memcached),
    ]
    # postgres: the image's default command, listening on loopback only.
    assert override["postgres"]["command"] == ["postgres", "-c", "listen_addresses=127.0.0.1"]
    # The two checks that name a port: the same check on the new port.
    same_checks = {
        "memcached": ("127.0.0.1 11211", f"127.0.0.1 {ports.memcached}"),
        "gateway": ("http://127.0.0.1/", f"http://127.0.0.1:{ports.gateway}/"),
    }
    for name, service in override.items():
        if "healthcheck" not in service:
            continue
        assert set(service["healthcheck"]) == {"test"}, name
        old, new = same_checks[name]
        expected = [word.replace(old, new) for word in base[name]["healthcheck"]["test"]]
        assert service["healthcheck"]["test"] == expected, name


def test_the_override_environment_is_wiring_and_ports_only() -> None:
    base, override = _services()
    for name in ("migrate", *SERVICE_NAMES):
        environment = override[name]["environment"]
        assert set(environment) - {"SNAPPROXY_PORT"} == WIRING, name
        for key in WIRING:
            assert key in base[name]["environment"], f"{key} is not docker-compose.yml's"
    assert set(override["postgres"]["environment"]) == {"PGPORT"}


def test_each_service_gets_its_own_loopback_port() -> None:
    ports = CiPorts.from_override()
    assert len(set(ports.all())) == len(ports.all())
    assert all(1024 < port < 32768 for port in ports.all()), "below the ephemeral range"
    _, override = _services()
    urls = json.loads(override["auth"]["environment"]["SNAPPROXY_SERVICE_URLS"])
    assert urls == {name: f"http://{name}:{port}" for name, port in ports.services.items()}
    for name, port in ports.services.items():
        assert override[name]["environment"]["SNAPPROXY_PORT"] == str(port)


def test_the_gateway_config_is_the_project_renderer_for_these_ports() -> None:
    ports = CiPorts.from_override()
    text = gateway_conf(ports)
    assert f"listen 127.0.0.1:{ports.gateway};" in text
    for name, port in ports.services.items():
        assert f"server {name}:{port} " in text
