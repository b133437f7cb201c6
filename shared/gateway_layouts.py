"""The gateways ``snap-proxy render-nginx`` renders: compose's and the Kubernetes ones
(``shared.gateway_config`` renders a layout)."""

from __future__ import annotations

import enum
from dataclasses import replace

from shared.gateway_config import GatewayLayout
from shared.gateway_tls import CONTAINER_TLS_DIR, GatewayTls
from shared.settings import SERVICE_NAMES


def compose_layout() -> GatewayLayout:
    """The gateway of docker-compose.yml: services by their compose names."""
    return GatewayLayout(
        listen="80",
        upstreams={service: [f"{service}:8000"] for service in SERVICE_NAMES},
        cache_dir="/var/lib/snapproxy/cache",
    )


# Where the snapproxy image keeps its download cache (SNAPPROXY_DATA_DIR/cache).
CONTAINER_CACHE_DIR = "/var/lib/snapproxy/cache"
# HTTPS on Kubernetes (deploy/k8s/components/tls): the gateway's unprivileged HTTPS port, and
# the files of the snapproxy-gateway-tls Secret (type kubernetes.io/tls) mounted in the pod.
KUBERNETES_HTTPS_LISTEN = "8443"
KUBERNETES_TLS = (f"{CONTAINER_TLS_DIR}/tls.crt", f"{CONTAINER_TLS_DIR}/tls.key")


def kubernetes_tls(public_port: int) -> GatewayTls:
    """HTTPS on 8443 with the mounted Secret's pair; HTTP redirects to ``public_port`` (the
    gateway Service's HTTPS port, proxy.port.https)."""
    cert, key = KUBERNETES_TLS
    return GatewayTls(KUBERNETES_HTTPS_LISTEN, public_port, cert, key)


def kubernetes_layout(*, local_cache: bool = False) -> GatewayLayout:
    """The gateway Deployment of ``deploy/k8s``: the services by their Service names (cluster
    DNS, same namespace), nginx unprivileged on a read-only root (port 8080; its pid and
    temporary files in the ``/tmp`` volume), two workers (``auto`` counts the node's CPUs,
    not the pod's limit). ``local_cache``: the gateway mounts the cache volume read-only and
    sends hits itself (the single-node overlay); else every hit goes through downloads."""
    return GatewayLayout(
        listen="8080",
        upstreams={service: [f"{service}:8000"] for service in SERVICE_NAMES},
        cache_dir=CONTAINER_CACHE_DIR,
        pid_path="/tmp/nginx.pid",
        temp_dir="/tmp",
        accel_redirect=local_cache,
        worker_processes="2",
    )


class LayoutName(enum.StrEnum):
    """The gateways ``snap-proxy render-nginx --layout`` renders for."""

    compose = "compose"
    kubernetes = "kubernetes"
    kubernetes_local_cache = "kubernetes-local-cache"
    # HTTPS, with the certificate of a mounted Secret (deploy/k8s/components/tls), for
    # either overlay: with the cache locations, which are internal and used only when the
    # downloads service answers with X-Accel-Redirect (SNAPPROXY_ACCEL_REDIRECT=true: the
    # single-node overlay, whose gateway mounts the cache volume).
    kubernetes_tls = "kubernetes-tls"


def named_layout(name: LayoutName, https_port: int = 443) -> GatewayLayout:
    """The layout ``name``; ``https_port``: where the ``-tls`` ones redirect HTTP to."""
    if name is LayoutName.kubernetes:
        return kubernetes_layout()
    if name is LayoutName.kubernetes_local_cache:
        return kubernetes_layout(local_cache=True)
    if name is LayoutName.kubernetes_tls:
        return replace(kubernetes_layout(local_cache=True), tls=kubernetes_tls(https_port))
    return compose_layout()
