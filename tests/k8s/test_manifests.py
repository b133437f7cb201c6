"""deploy/k8s: every tree builds with `kubectl kustomize`, validates against the strict
schemas of a pinned Kubernetes version, and keeps the invariants of issue 13: probes,
requests and limits everywhere; only the gateway exposed; images pinned; the gateway's
nginx.conf the route table's; and what each overlay promises."""

from __future__ import annotations

import copy
import json
import subprocess
import tomllib
from typing import Any

import pytest

from shared.gateway_config import render_nginx_conf
from shared.gateway_layouts import CONTAINER_CACHE_DIR, kubernetes_layout
from tests.k8s.manifests import (
    GATEWAY_POD,
    K8S,
    REPO,
    SERVICES,
    STATELESS,
    TREES,
    WORKLOADS,
    Doc,
    build_all,
    component,
    containers,
    exposure_problems,
    generated,
    hardening_problems,
    image_problems,
    named,
    of_kind,
    pod_spec,
    probe_and_resource_problems,
    schema_problems,
)

PROJECT_VERSION: str = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, list[Doc]]:
    return build_all(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="module")
def every_doc(built) -> list[Doc]:
    """Each distinct document of every tree once."""
    unique = {json.dumps(doc, sort_keys=True): doc for docs in built.values() for doc in docs}
    return list(unique.values())


def env_of(container: Doc) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def snapproxy_container(workload: Doc) -> Doc:
    found = [c for _, c in containers(workload) if c["name"] in ("snapproxy", "migrate")]
    assert len(found) == 1
    return found[0]


def test_every_tree_builds_with_each_part(built):
    for tree, docs in built.items():
        for name in STATELESS:
            named(docs, "Deployment", name)
            named(docs, "Service", name)
        named(docs, "Job", "snapproxy-migrate")
        for secret in ("snapproxy-database", "snapproxy-internal", "snapproxy-admin"):
            generated(docs, "Secret", secret)
        assert len(of_kind(docs, "NetworkPolicy")) >= 6, tree


def test_every_document_validates_against_the_strict_schemas(every_doc):
    assert schema_problems(every_doc) == []


def test_the_schema_check_sees_what_it_forbids(built):
    deployment = copy.deepcopy(named(built["base"], "Deployment", "auth"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    autoscaler: Doc = {"apiVersion": "autoscaling/v9", "kind": "HorizontalPodAutoscaler"}
    autoscaler["metadata"] = {"name": "devicegw"}
    problems = schema_problems([deployment, autoscaler])
    assert len(problems) == 2, problems
    assert "livenessProbes" in problems[0]
    assert "autoscaling/v9" in problems[1]


def test_every_workload_has_probes_requests_and_limits(every_doc):
    assert of_kind(every_doc, "StatefulSet"), "the lab's StatefulSets are checked too"
    assert probe_and_resource_problems(every_doc) == []


def test_the_probe_check_sees_what_it_forbids(built):
    deployment = copy.deepcopy(named(built["base"], "Deployment", "devicegw"))
    main = pod_spec(deployment)["containers"][0]
    del main["readinessProbe"]
    del main["resources"]["limits"]["memory"]
    del pod_spec(deployment)["initContainers"][0]["resources"]["requests"]["cpu"]
    assert probe_and_resource_problems([deployment]) == [
        "Deployment/devicegw wait-for-schema: no cpu in resources.requests",
        "Deployment/devicegw snapproxy: no readinessProbe",
        "Deployment/devicegw snapproxy: no memory in resources.limits",
    ]


def test_services_are_ready_on_check_and_live_on_ping(built):
    for docs in built.values():
        for name in SERVICES:
            main = snapproxy_container(named(docs, "Deployment", name))
            assert main["readinessProbe"]["httpGet"]["path"] == "/_status/check"
            assert main["livenessProbe"]["httpGet"]["path"] == "/_status/ping"
            assert main["startupProbe"]["httpGet"]["path"] == "/_status/ping"
            assert main["ports"] == [{"name": "http", "containerPort": 8000}]
            assert main["args"][:2] == ["serve-service", name]


def test_pods_run_as_non_root_on_read_only_roots(every_doc):
    assert hardening_problems(every_doc) == []


def test_no_service_is_exposed_but_the_gateway(built):
    for tree, docs in built.items():
        assert exposure_problems(docs) == [], tree
        gateway = named(docs, "Service", "gateway")
        assert gateway["spec"]["type"] == "LoadBalancer"
        assert gateway["spec"]["selector"].items() <= GATEWAY_POD.items()


def test_the_exposure_check_sees_what_it_forbids(built):
    docs = copy.deepcopy(built["overlays/cluster"])
    named(docs, "Service", "revisions")["spec"]["type"] = "NodePort"
    services = named(docs, "NetworkPolicy", "snapproxy-services")
    services["spec"]["ingress"].append({"from": [{"namespaceSelector": {}}]})
    default_deny = named(docs, "NetworkPolicy", "snapproxy-default-deny")
    default_deny["spec"]["podSelector"] = {"matchLabels": {"app.kubernetes.io/component": "x"}}
    docs.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "admin"},
            "spec": {"defaultBackend": {"service": {"name": "auth", "port": {"number": 8000}}}},
        }
    )
    problems = exposure_problems(docs)
    assert "Service/revisions: reachable from outside (NodePort)" in problems
    assert "Ingress/admin: routes to ['auth']" in problems
    assert "Job/snapproxy-migrate: not under an ingress and egress policy" in problems
    for name in SERVICES:
        assert (
            f'NetworkPolicy/snapproxy-services lets {{"namespaceSelector": {{}}}} reach '
            f"Deployment/{name}"
        ) in problems


def test_images_are_pinned(every_doc):
    assert image_problems(every_doc, PROJECT_VERSION) == []


def test_the_image_check_sees_what_it_forbids(built):
    deployment = copy.deepcopy(named(built["base"], "Deployment", "gateway"))
    spec = pod_spec(deployment)
    spec["containers"][0]["image"] = "nginx:1.30-alpine"
    spec["containers"].append({**spec["containers"][0], "name": "a", "image": "nginx"})
    spec["containers"].append({**spec["containers"][0], "name": "b", "image": "snapproxy:0.0.9"})
    spec["containers"].append({**spec["containers"][0], "name": "c", "image": "redis:7.2.4"})
    spec["containers"].append(
        {**spec["containers"][0], "name": "d", "image": "nginx@sha256:" + "0" * 64}
    )
    assert image_problems([deployment], "0.1.0") == [
        "Deployment/gateway nginx: nginx:1.30-alpine: '1.30-alpine' is not an exact release",
        "Deployment/gateway a: nginx: no tag",
        "Deployment/gateway b: snapproxy:0.0.9: not this version (0.1.0)",
        "Deployment/gateway c: redis:7.2.4: an image without a known exact-tag form",
    ]


def test_the_rendered_nginx_config_is_the_route_tables(built):
    base = render_nginx_conf(kubernetes_layout())
    local_cache = render_nginx_conf(kubernetes_layout(local_cache=True))
    hint = "run `snap-proxy render-nginx --layout kubernetes[-local-cache] -o FILE`"
    assert (K8S / "base/gateway/nginx.conf").read_text() == base, hint
    assert (K8S / "overlays/single-node/nginx.conf").read_text() == local_cache, hint
    expected = {"overlays/single-node": local_cache}
    for tree, docs in built.items():
        config = generated(docs, "ConfigMap", "snapproxy-gateway")
        assert config["data"] == {"nginx.conf": expected.get(tree, base)}, tree
        gateway = pod_spec(named(docs, "Deployment", "gateway"))
        volume = next(v for v in gateway["volumes"] if v["name"] == "config")
        assert volume["configMap"]["name"] == config["metadata"]["name"]
        command = gateway["containers"][0]["command"]
        assert command[:3] == ["nginx", "-c", "/etc/snapproxy-gateway/nginx.conf"]


def test_each_snapproxy_container_has_the_settings_and_its_own_database_key(built):
    for tree, docs in built.items():
        settings = generated(docs, "ConfigMap", "snapproxy-settings")["metadata"]["name"]
        database = generated(docs, "Secret", "snapproxy-database")["metadata"]["name"]
        for workload in of_kind(docs, *WORKLOADS):
            key = component(workload)
            if key not in (*SERVICES, "migrate"):
                continue
            for _, container in containers(workload):
                where = f"{tree} {workload['metadata']['name']} {container['name']}"
                sources = [s.get("configMapRef", {}).get("name") for s in container["envFrom"]]
                assert settings in sources, where
                url = env_of(container)["SNAPPROXY_DATABASE_URL"]["secretKeyRef"]
                assert url == {"name": database, "key": key}, where
        if tree != "base":
            keys = set(generated(docs, "Secret", "snapproxy-database")["data"])
            assert keys == {*SERVICES, "migrate"}, tree


def test_the_base_commits_no_credential(built):
    for secret in of_kind(built["base"], "Secret"):
        assert not secret.get("data"), secret["metadata"]["name"]
    committed = [p.name for p in K8S.rglob("secrets/*") if not p.name.endswith(".example")]
    tracked = [name for name in committed if name in _git_tracked()]
    assert tracked == []


def _git_tracked() -> set[str]:
    listing = subprocess.run(
        ["git", "ls-files", "deploy/k8s"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return {line.rsplit("/", 1)[-1] for line in listing.stdout.splitlines()}


def test_admin_token_only_where_the_admin_api_is(built):
    for name in SERVICES:
        env = env_of(snapproxy_container(named(built["base"], "Deployment", name)))
        assert ("SNAPPROXY_ADMIN_TOKEN" in env) == (name in ("auth", "downloads")), name
        assert env["SNAPPROXY_INTERNAL_SECRET"]["secretKeyRef"]["key"] == "internal-secret"


def test_pods_wait_for_the_schema_and_the_job_migrates(built):
    for docs in built.values():
        for name in SERVICES:
            init = pod_spec(named(docs, "Deployment", name))["initContainers"]
            assert [c["name"] for c in init] == ["wait-for-schema"]
            assert init[0]["args"][:2] == ["db", "wait"]
        job = named(docs, "Job", "snapproxy-migrate")
        assert snapproxy_container(job)["args"][:2] == ["db", "upgrade"]
        assert pod_spec(job)["restartPolicy"] == "OnFailure"


def test_single_node_keeps_the_cache_on_a_claim_the_gateway_reads(built):
    docs = built["overlays/single-node"]
    for workload in of_kind(docs, *WORKLOADS):
        if workload["kind"] == "Deployment":
            assert workload["spec"]["replicas"] == 1, workload["metadata"]["name"]
    claim = named(docs, "PersistentVolumeClaim", "snapproxy-cache")["metadata"]["name"]
    downloads = pod_spec(named(docs, "Deployment", "downloads"))
    gateway = pod_spec(named(docs, "Deployment", "gateway"))
    for spec, read_only in ((downloads, False), (gateway, True)):
        volume = next(v for v in spec["volumes"] if v["name"] == "cache")
        assert volume["persistentVolumeClaim"]["claimName"] == claim
        mounts = [m for c in spec["containers"] for m in c.get("volumeMounts", [])]
        mount = next(m for m in mounts if m["name"] == "cache")
        assert mount["mountPath"] == CONTAINER_CACHE_DIR
        assert mount.get("readOnly", False) is read_only
    settings = generated(docs, "ConfigMap", "snapproxy-settings")["data"]
    assert f"{settings['SNAPPROXY_DATA_DIR']}/cache" == CONTAINER_CACHE_DIR
    assert settings["SNAPPROXY_ACCEL_REDIRECT"] == "true"
    assert f"alias {CONTAINER_CACHE_DIR}/;" in (K8S / "overlays/single-node/nginx.conf").read_text()


@pytest.mark.parametrize("tree", ["base", "overlays/cluster", "examples/lab"])
def test_without_a_shared_volume_the_gateway_sends_no_hits(built, tree):
    docs = built[tree]
    settings = generated(docs, "ConfigMap", "snapproxy-settings")["data"]
    assert settings["SNAPPROXY_ACCEL_REDIRECT"] == "false"
    gateway = pod_spec(named(docs, "Deployment", "gateway"))
    assert {v["name"] for v in gateway["volumes"]} == {"config", "tmp"}
    config = generated(docs, "ConfigMap", "snapproxy-gateway")["data"]["nginx.conf"]
    assert "/_cache/" not in config


@pytest.mark.parametrize("tree", ["overlays/cluster", "examples/lab"])
def test_cluster_runs_replicas_with_budgets_autoscalers_and_s3(built, tree):
    docs = built[tree]
    autoscaled = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]["minReplicas"]
        for hpa in of_kind(docs, "HorizontalPodAutoscaler")
    }
    assert set(autoscaled) == {"devicegw", "downloads"}
    for name in STATELESS:
        deployment = named(docs, "Deployment", name)
        if name in autoscaled:
            assert "replicas" not in deployment["spec"], f"{name}: the autoscaler owns it"
            assert autoscaled[name] >= 2
        else:
            assert deployment["spec"]["replicas"] >= 2, name
        budget = named(docs, "PodDisruptionBudget", name)
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        assert pod_spec(deployment)["topologySpreadConstraints"]
    downloads = named(docs, "Deployment", "downloads")
    main = snapproxy_container(downloads)
    storage = generated(docs, "ConfigMap", "snapproxy-storage")
    s3 = generated(docs, "Secret", "snapproxy-s3")
    sources = [next(iter(source.values()))["name"] for source in main["envFrom"]]
    assert storage["metadata"]["name"] in sources
    assert s3["metadata"]["name"] in sources
    assert storage["data"]["SNAPPROXY_STORAGE_BACKEND"] == "s3"
    assert {key.removeprefix("SNAPPROXY_STORAGE_S3_") for key in storage["data"]} >= {
        "ENDPOINT",
        "BUCKET",
        "REGION",
        "PATH_STYLE",
    }
    assert set(s3["data"]) == {
        "SNAPPROXY_STORAGE_S3_ACCESS_KEY_ID",
        "SNAPPROXY_STORAGE_S3_SECRET_ACCESS_KEY",
    }
    cache = next(v for v in pod_spec(downloads)["volumes"] if v["name"] == "cache")
    assert set(cache) == {"name", "emptyDir"}, "downloads replicas share no disk"
    for name in SERVICES:
        if name != "downloads":
            env = named(docs, "Deployment", name)
            assert storage["metadata"]["name"] not in json.dumps(env), name


def test_downloads_pods_tell_peers_their_own_address(built):
    for docs in built.values():
        env = env_of(snapproxy_container(named(docs, "Deployment", "downloads")))
        assert env["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert env["SNAPPROXY_NODE_URL"] == "http://$(POD_IP):8000"
        names = list(env)
        assert names.index("POD_IP") < names.index("SNAPPROXY_NODE_URL"), "defined first"


def test_trees_are_the_documented_ones():
    assert sorted(str(p.parent.relative_to(K8S)) for p in K8S.rglob("kustomization.yaml")) == (
        sorted([*TREES, "components/cluster", "components/monitoring", "components/tls"])
    )
