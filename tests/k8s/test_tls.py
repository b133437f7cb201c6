"""deploy/k8s/components/tls: HTTPS on the gateway, added to an overlay as docs/kubernetes.md
says, with a test certificate as the operator's secrets/tls.crt and tls.key. The rendered
manifests validate; the gateway mounts the generated kubernetes.io/tls Secret where its
nginx.conf reads the pair, exposes 8443 on the container, the Service and the policy; and
nginx, run with the rendered config and the test pair, serves HTTPS and redirects HTTP."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from shared.gateway_layouts import KUBERNETES_TLS
from shared.settings import SERVICE_NAMES
from shared.split import free_port
from shared.tls_selfsigned import self_signed
from tests.k8s.manifests import (
    K8S,
    TREES,
    Doc,
    exposure_problems,
    generated,
    kustomize_with_component,
    named,
    pod_spec,
    schema_problems,
)

COMPONENT = "components/tls"
OVERLAYS = ("overlays/single-node", "overlays/cluster")
DOMAIN = "snaps.example.test"


def _build(workdir: Path, overlay: str, chain: str, key: str) -> list[Doc]:
    copy = workdir / "k8s"
    if not copy.exists():
        shutil.copytree(
            K8S, copy, ignore=shutil.ignore_patterns("*.env", "*.json", "*.crt", "*.key")
        )
        for example in copy.rglob("secrets/*.example"):
            shutil.copyfile(example, example.with_suffix(""))
        (copy / COMPONENT / "secrets/tls.crt").write_text(chain)
        (copy / COMPONENT / "secrets/tls.key").write_text(key)
    return kustomize_with_component(copy, "with-tls", overlay, COMPONENT)


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    bundle = self_signed(DOMAIN)
    return bundle.chain_pem, bundle.key_pem


@pytest.fixture(scope="module")
def with_tls(
    tmp_path_factory: pytest.TempPathFactory, pair: tuple[str, str]
) -> dict[str, list[Doc]]:
    workdir = tmp_path_factory.mktemp("k8s-tls")
    return {overlay: _build(workdir, overlay, *pair) for overlay in OVERLAYS}


def test_no_tree_uses_the_component_by_default() -> None:
    for tree in TREES:
        kustomization = yaml.safe_load((K8S / tree / "kustomization.yaml").read_text())
        used = [Path(component).name for component in kustomization.get("components", [])]
        assert Path(COMPONENT).name not in used, tree


def test_the_overlays_with_tls_validate_and_expose_only_the_gateway(
    with_tls: dict[str, list[Doc]],
) -> None:
    for overlay, docs in with_tls.items():
        assert schema_problems(docs) == [], overlay
        assert exposure_problems(docs) == [], overlay


def test_the_gateway_mounts_the_secret_and_serves_8443(
    with_tls: dict[str, list[Doc]], pair: tuple[str, str]
) -> None:
    chain, key = pair
    for overlay, docs in with_tls.items():
        secret = generated(docs, "Secret", "snapproxy-gateway-tls")
        assert secret["type"] == "kubernetes.io/tls"
        assert base64.b64decode(secret["data"]["tls.crt"]).decode() == chain
        assert base64.b64decode(secret["data"]["tls.key"]).decode() == key

        gateway = named(docs, "Deployment", "gateway")
        spec = pod_spec(gateway)
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == secret["metadata"]["name"], overlay
        (nginx,) = spec["containers"]
        mounts = {mount["name"]: mount for mount in nginx["volumeMounts"]}
        assert mounts["tls"]["readOnly"] is True
        # nginx.conf reads the pair where the Secret's keys land.
        conf = generated(docs, "ConfigMap", "snapproxy-gateway")["data"]["nginx.conf"]
        for path in KUBERNETES_TLS:
            assert path == f"{mounts['tls']['mountPath']}/{Path(path).name}", path
            assert path in conf
        assert conf == (K8S / COMPONENT / "nginx.conf").read_text()
        assert "listen 8443 ssl;" in conf and "listen 8080;" in conf
        ports = {port["name"]: port["containerPort"] for port in nginx["ports"]}
        assert ports == {"http": 8080, "https": 8443}, overlay
        # The probes stay on HTTP: the gateway answers /_status/ there.
        assert nginx["readinessProbe"]["httpGet"]["port"] == "http"

        service = named(docs, "Service", "gateway")["spec"]["ports"]
        by_name = {port["name"]: port for port in service}
        assert by_name["https"] == {"name": "https", "port": 443, "targetPort": "https"}
        assert by_name["http"]["port"] == 80
        policy = named(docs, "NetworkPolicy", "snapproxy-gateway")["spec"]["ingress"]
        assert policy == [
            {"ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 8443}]}
        ]


@pytest.fixture
def gateway(
    tmp_path: Path, with_tls: dict[str, list[Doc]], pair: tuple[str, str]
) -> Iterator[tuple[int, int]]:
    """nginx with the rendered nginx.conf and the Secret's files, as in the pod: the pair at
    the mounted paths (moved into the test's folder), the services on a closed port, the
    listening ports free ones. Yields (http port, https port)."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    docs = with_tls["overlays/cluster"]
    conf = generated(docs, "ConfigMap", "snapproxy-gateway")["data"]["nginx.conf"]
    secret = generated(docs, "Secret", "snapproxy-gateway-tls")["data"]
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    for name in ("tls.crt", "tls.key"):
        (tls_dir / name).write_bytes(base64.b64decode(secret[name]))
    http_port, https_port = free_port(), free_port()
    conf = conf.replace(" /tmp/", f" {tmp_path}/").replace("/etc/nginx/tls/", f"{tls_dir}/")
    conf = conf.replace("listen 8443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{http_port};")
    conf = conf.replace("error_log /dev/stderr warn;", f"error_log {tmp_path}/error.log warn;")
    for service in SERVICE_NAMES:
        conf = conf.replace(f"server {service}:8000", "server 127.0.0.1:9")
    assert "8443" not in conf and "8080" not in conf and "/etc/nginx/tls" not in conf
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    checked = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr
    process = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(path), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/_status/ping", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.2)
        yield http_port, https_port
    finally:
        process.terminate()
        process.wait(15)


def test_nginx_serves_https_with_the_secret_and_redirects_http(
    gateway: tuple[int, int], pair: tuple[str, str]
) -> None:
    http_port, https_port = gateway
    chain, _ = pair
    trusted = ssl.create_default_context()
    trusted.load_verify_locations(cadata=chain)
    # HTTPS with the Secret's certificate, for the domain it names.
    with httpx.Client(verify=trusted, timeout=10) as client:
        # The name resolves to nothing: connect to the loopback address, ask for DOMAIN.
        ping = client.get(
            f"https://127.0.0.1:{https_port}/_status/ping",
            extensions={"sni_hostname": DOMAIN},
        )
    assert ping.status_code == 200 and ping.json()["service"] == "gateway"
    served = ssl.get_server_certificate(("127.0.0.1", https_port), timeout=10)
    assert (
        served.strip()
        == chain.split("-----END CERTIFICATE-----")[0].strip() + "\n-----END CERTIFICATE-----"
    )
    with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as client:
        # HTTP: 301 to the same URL on https (port 443, the Service's), 308 for a POST.
        answer = client.get("/v2/snaps/info/hello?fields=revision", headers={"Host": DOMAIN})
        assert answer.status_code == 301
        assert answer.headers["location"] == f"https://{DOMAIN}/v2/snaps/info/hello?fields=revision"
        posted = client.post("/v2/snaps/refresh", json={}, headers={"Host": DOMAIN})
        assert posted.status_code == 308
        assert posted.headers["location"] == f"https://{DOMAIN}/v2/snaps/refresh"
        # Health checks stay on HTTP.
        assert client.get("/_status/ping").status_code == 200
