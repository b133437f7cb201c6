"""deploy/k8s/components/monitoring: the ServiceMonitor and the NetworkPolicy rule for
Prometheus, added to an overlay as operators do. The base and the overlays do not use it, so
they validate without the Prometheus Operator's CRDs (test_manifests.py). kubernetes-validate
has no schema for a ServiceMonitor (a CRD): it is the one kind left out of the strict schema
check, and checked here by hand against the Services it must select."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.k8s.manifests import (
    K8S,
    SERVICES,
    TREES,
    Doc,
    exposure_problems,
    kustomize_with_component,
    named,
    of_kind,
    schema_problems,
    selects,
)

COMPONENT = "components/monitoring"
OVERLAYS = ("overlays/single-node", "overlays/cluster")
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
SCRAPE_POLICY = "snapproxy-metrics"
PROMETHEUS_PEER = (
    '{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}, '
    '"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}'
)


def _build(workdir: Path, overlay: str) -> list[Doc]:
    """``overlay`` with the component added, as docs/metrics.md tells operators to."""
    copy = workdir / "k8s"
    if not copy.exists():
        shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("*.env", "*.json"))
        for example in copy.rglob("secrets/*.example"):
            shutil.copyfile(example, example.with_suffix(""))
    return kustomize_with_component(copy, "monitored", overlay, COMPONENT)


@pytest.fixture(scope="module")
def monitored(tmp_path_factory) -> dict[str, list[Doc]]:
    workdir = tmp_path_factory.mktemp("k8s-monitoring")
    return {overlay: _build(workdir, overlay) for overlay in OVERLAYS}


def _is_crd(doc: Doc) -> bool:
    return (doc["apiVersion"], doc["kind"]) in CRDS


def test_no_tree_uses_the_component_by_default():
    for tree in TREES:
        kustomization = yaml.safe_load((K8S / tree / "kustomization.yaml").read_text())
        used = [Path(component).name for component in kustomization.get("components", [])]
        assert Path(COMPONENT).name not in used, tree


def test_everything_but_the_crd_validates_strictly(monitored):
    for overlay, docs in monitored.items():
        [monitor] = [doc for doc in docs if _is_crd(doc)]
        assert schema_problems([doc for doc in docs if not _is_crd(doc)]) == [], overlay
        # The one kind left out is left out for want of a schema, nothing else.
        [problem] = schema_problems([monitor])
        assert problem.startswith("ServiceMonitor/snapproxy: "), problem


def test_the_service_monitor_scrapes_each_services_metrics(monitored):
    for overlay, docs in monitored.items():
        monitor = named(docs, "ServiceMonitor", "snapproxy")
        assert monitor["metadata"]["namespace"] == "snapproxy"
        spec = monitor["spec"]
        chosen = [
            service["metadata"]["name"]
            for service in of_kind(docs, "Service")
            if selects(spec["selector"], service["metadata"].get("labels", {}))
        ]
        assert sorted(chosen) == sorted(SERVICES), overlay  # not the gateway: no /metrics
        [endpoint] = spec["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["honorLabels"] is True
        for name in SERVICES:
            ports = named(docs, "Service", name)["spec"]["ports"]
            assert endpoint["port"] in [port["name"] for port in ports], name
            assert {port["port"] for port in ports} == {8000}, name


def test_prometheus_reaches_the_services_http_port_and_nothing_else(monitored):
    for overlay, docs in monitored.items():
        # The one new way in: Prometheus's pods, to the five services (not the gateway, not
        # the migration Job); what the exposure check says is that and only that.
        assert sorted(exposure_problems(docs)) == sorted(
            f"NetworkPolicy/{SCRAPE_POLICY} lets {PROMETHEUS_PEER} reach Deployment/{name}"
            for name in SERVICES
        ), overlay
        policy = named(docs, "NetworkPolicy", SCRAPE_POLICY)
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        [rule] = policy["spec"]["ingress"]
        assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
