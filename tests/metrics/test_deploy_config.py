"""The scrape configurations in deploy/: Prometheus for compose (deploy/prometheus), as
files (no Prometheus here to load them; the ServiceMonitor is tests/k8s/test_monitoring.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from shared.metrics import METRICS_PATH
from shared.settings import SERVICE_NAMES

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS = REPO / "deploy" / "prometheus"
COMPOSE_SCHEMA = REPO / "tests" / "fixtures" / "compose-spec.json"


def _yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_prometheus_scrapes_every_service_on_its_own_port() -> None:
    [job] = _yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"]
    assert job["metrics_path"] == METRICS_PATH
    assert job["honor_labels"] is True
    [discovery] = job["dns_sd_configs"]
    assert sorted(discovery["names"]) == sorted(SERVICE_NAMES)  # by name: every replica
    assert (discovery["type"], discovery["port"]) == ("A", 8000)
    compose = _yaml(REPO / "docker-compose.yml")["services"]
    for name in SERVICE_NAMES:
        assert "--port" in compose[name]["command"]
        assert compose[name]["command"][compose[name]["command"].index("--port") + 1] == "8000"
    assert [rule["target_label"] for rule in job["relabel_configs"]] == ["service"]


def test_the_compose_override_is_valid_and_publishes_on_loopback_only() -> None:
    override = _yaml(PROMETHEUS / "compose.yml")
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    assert [error.message for error in validator.iter_errors(override)] == []
    prometheus = override["services"]["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prometheus["image"])
    assert all(port.startswith("127.0.0.1:") for port in prometheus["ports"])
    mount = "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
    assert mount in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
