"""The nginx config is rendered from the route table, and nginx accepts it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from shared.gateway_config import GatewayLayout, render_nginx_conf
from shared.gateway_layouts import compose_layout
from shared.routes import ROUTES
from shared.settings import SERVICE_NAMES

REPO = Path(__file__).resolve().parents[2]


def test_committed_config_is_the_rendered_one():
    committed = (REPO / "deploy/nginx/nginx.conf").read_text()
    assert committed == render_nginx_conf(compose_layout()), "run `make nginx-conf`"


def test_every_route_is_a_location():
    text = render_nginx_conf(compose_layout())
    for route in ROUTES:
        assert f"location ^~ {route.prefix} {{ proxy_pass http://{route.service};" in text
    for service in SERVICE_NAMES:
        assert (
            f"location ^~ /_status/{service}/ {{ proxy_pass http://{service}/_status/; }}" in text
        )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_rendered_config(tmp_path):
    layout = GatewayLayout(
        listen="127.0.0.1:1",
        upstreams={service: ["127.0.0.1:9"] for service in SERVICE_NAMES},
        cache_dir=str(tmp_path / "cache"),
        pid_path=str(tmp_path / "nginx.pid"),
        error_log=str(tmp_path / "error.log"),
        access_log=str(tmp_path / "access.log"),
        temp_dir=str(tmp_path),
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx_conf(layout))
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
