"""The Kubernetes gateway's nginx.conf: `snap-proxy render-nginx --layout kubernetes[-local-
cache]` writes what is committed in deploy/k8s, and nginx accepts it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace

import pytest

from shared.gateway_config import render_nginx_conf
from shared.gateway_layouts import LayoutName, kubernetes_layout
from shared.settings import SERVICE_NAMES
from tests.k8s.manifests import K8S
from tests.support.infra import proxy_env
from tests.support.proxies import SNAP_PROXY

COMMITTED = {
    LayoutName.kubernetes: K8S / "base/gateway/nginx.conf",
    LayoutName.kubernetes_local_cache: K8S / "overlays/single-node/nginx.conf",
    LayoutName.kubernetes_tls: K8S / "components/tls/nginx.conf",
}


@pytest.mark.parametrize("layout", list(COMMITTED))
def test_the_command_renders_the_committed_file(tmp_path, layout):
    output = tmp_path / "nginx.conf"
    result = subprocess.run(
        [*SNAP_PROXY, "render-nginx", "--layout", layout.value, "-o", str(output)],
        env=proxy_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text() == COMMITTED[layout].read_text()


def test_the_kubernetes_layouts_differ_only_in_the_cache_locations():
    shared_volume = render_nginx_conf(kubernetes_layout(local_cache=True))
    streamed = render_nginx_conf(kubernetes_layout())
    assert "alias /var/lib/snapproxy/cache/;" in shared_volume
    assert "location /_cache/" not in streamed
    assert "location /_cache_whole/" not in streamed
    # A hit whose file was evicted before nginx opened it goes back to the downloads service
    # (both cache locations), which answers it as a miss.
    assert shared_volume.count("error_page 404 = @cache_file_gone;") == 2
    assert "location @cache_file_gone {\n            proxy_pass http://downloads$request_uri;" in (
        shared_volume
    )
    assert "@cache_file_gone" not in streamed
    for text in (shared_volume, streamed):
        assert "listen 8080;" in text
        assert "pid /tmp/nginx.pid;" in text
        assert "worker_processes 2;" in text
        assert "user " not in text.split("events", 1)[0], "nginx runs unprivileged"
        for service in SERVICE_NAMES:
            assert f"server {service}:8000 max_fails=0;" in text


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
@pytest.mark.parametrize("local_cache", [False, True])
def test_nginx_accepts_the_kubernetes_layouts(tmp_path, local_cache):
    # The services' names resolve only in a cluster, and /tmp is the pod's own there.
    layout = replace(
        kubernetes_layout(local_cache=local_cache),
        upstreams={service: ["127.0.0.1:9"] for service in SERVICE_NAMES},
        pid_path=str(tmp_path / "nginx.pid"),
        temp_dir=str(tmp_path),
        error_log=str(tmp_path / "error.log"),
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx_conf(layout))
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
