"""deploy/k8s built as an operator builds it, and the checks its tests make of the result.

``build_all`` copies the tree (leaving out any real ``secrets/*`` of this checkout), fills
each ``secrets/*.example`` in as the walkthrough does (docs/kubernetes.md), and runs
``kubectl kustomize`` on every tree. The checks return lists of problems, so a test can
also show that a check sees what it forbids.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
TREES = ("base", "overlays/single-node", "overlays/cluster", "examples/lab")
# The Kubernetes version the manifests are validated against (strict schemas, shipped
# with kubernetes-validate: no network).
KUBERNETES_VERSION = "1.34.0"
SERVICES = ("auth", "devicegw", "revisions", "assertions", "downloads")
STATELESS = (*SERVICES, "gateway")
WORKLOADS = ("Deployment", "StatefulSet", "Job")
SNAPPROXY_IMAGE = "snapproxy"
# Third-party images and what an exact release looks like in their tags (a digest always
# is one). An image not listed here fails the check: add it with its own pattern.
EXACT_TAGS = {
    "nginx": r"\d+\.\d+\.\d+-alpine",
    "postgres": r"\d+\.\d+-alpine",
    "memcached": r"\d+\.\d+\.\d+-alpine",
    "chrislusf/seaweedfs": r"\d+\.\d+",
}

Doc = dict[str, Any]


def build_all(workdir: Path) -> dict[str, list[Doc]]:
    """Every tree of deploy/k8s, rendered from a copy with the example secrets filled in."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to build deploy/k8s (`kubectl kustomize`)"
    copy = workdir / "k8s"

    def real_secrets(folder: str, names: list[str]) -> list[str]:
        if Path(folder).name != "secrets":
            return []
        return [name for name in names if not name.endswith(".example")]

    shutil.copytree(K8S, copy, ignore=real_secrets)
    for example in copy.rglob("secrets/*.example"):
        shutil.copyfile(example, example.with_suffix(""))
    built = {}
    for tree in TREES:
        result = subprocess.run(
            [kubectl, "kustomize", str(copy / tree)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"kubectl kustomize {tree}: {result.stderr}"
        built[tree] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return built


def schema_problems(docs: Sequence[Doc]) -> list[str]:
    """What kubernetes-validate (strict) finds; a kind it has no schema for is a problem too
    (its command line only warns about those)."""
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            problems.append(f"{name_of(doc)}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{name_of(doc)}: {exc.message}")
    return problems


def name_of(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def of_kind(docs: Sequence[Doc], *kinds: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in kinds]


def named(docs: Sequence[Doc], kind: str, name: str) -> Doc:
    found = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def generated(docs: Sequence[Doc], kind: str, name: str) -> Doc:
    """A generated ConfigMap or Secret, by its name without the content hash."""
    pattern = re.compile(re.escape(name) + r"-[a-z0-9]{10}")
    found = [doc for doc in of_kind(docs, kind) if pattern.fullmatch(doc["metadata"]["name"])]
    assert len(found) == 1, f"{kind}/{name}-<hash>: {len(found)} found"
    return found[0]


def pod_spec(workload: Doc) -> Doc:
    spec: Doc = workload["spec"]["template"]["spec"]
    return spec


def containers(workload: Doc) -> Iterator[tuple[str, Doc]]:
    """("init"|"main", container) for every container of a workload's pods."""
    spec = pod_spec(workload)
    for container in spec.get("initContainers", []):
        yield "init", container
    for container in spec["containers"]:
        yield "main", container


def component(workload: Doc) -> str | None:
    labels: Mapping[str, str] = workload["spec"]["template"]["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component")


def probe_and_resource_problems(docs: Sequence[Doc]) -> list[str]:
    """Deployments and StatefulSets: readiness and liveness probes on every long-running
    container; every container of every workload: CPU and memory requests and limits."""
    problems = []
    for workload in of_kind(docs, *WORKLOADS):
        for role, container in containers(workload):
            where = f"{name_of(workload)} {container['name']}"
            if workload["kind"] != "Job" and role == "main":
                for probe in ("readinessProbe", "livenessProbe"):
                    if probe not in container:
                        problems.append(f"{where}: no {probe}")
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in resources.get(part, {}):
                        problems.append(f"{where}: no {what} in resources.{part}")
    return problems


def hardening_problems(docs: Sequence[Doc]) -> list[str]:
    """Non-root pods, read-only root filesystems, no privilege escalation, no capabilities,
    no service account token, nothing on the host's network."""
    problems = []
    for workload in of_kind(docs, *WORKLOADS):
        spec = pod_spec(workload)
        where = name_of(workload)
        if not spec.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{where}: pods may run as root")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: pods get a service account token")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            problems.append(f"{where}: pods share the host's namespaces")
        for _, container in containers(workload):
            context = container.get("securityContext", {})
            cwhere = f"{where} {container['name']}"
            if not context.get("readOnlyRootFilesystem"):
                problems.append(f"{cwhere}: the root filesystem is writable")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cwhere}: privilege escalation allowed")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{cwhere}: capabilities not all dropped")
            if any("hostPort" in port for port in container.get("ports", [])):
                problems.append(f"{cwhere}: a host port")
    return problems


def image_problems(docs: Sequence[Doc], version: str) -> list[str]:
    """The snapproxy image at exactly ``version`` (or a digest); every other image at an
    exact release (``EXACT_TAGS``) or a digest: no ``latest``, no floating tag."""
    problems = []
    for workload in of_kind(docs, *WORKLOADS):
        for _, container in containers(workload):
            image: str = container["image"]
            where = f"{name_of(workload)} {container['name']}: {image}"
            if "@sha256:" in image:
                continue
            repository, _, tag = image.rpartition(":")
            if not repository or "/" in tag:
                problems.append(f"{where}: no tag")
            elif repository.rsplit("/", 1)[-1] == SNAPPROXY_IMAGE:
                if tag != version:
                    problems.append(f"{where}: not this version ({version})")
            elif repository not in EXACT_TAGS:
                problems.append(f"{where}: an image without a known exact-tag form")
            elif not re.fullmatch(EXACT_TAGS[repository], tag):
                problems.append(f"{where}: {tag!r} is not an exact release")
    return problems


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels and matchExpressions)."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"].get("labels", {})
    return labels


def exposure_problems(docs: Sequence[Doc]) -> list[str]:
    """Only the gateway is reachable from outside the cluster: it is the only Service of a
    type other than ClusterIP (or with external IPs), there is no Ingress to anything
    else, every snapproxy pod is under a policy that denies by default, and only the
    gateway's policies let in traffic from anywhere but the snapproxy pods."""
    problems = []
    for service in of_kind(docs, "Service"):
        spec = service["spec"]
        outside = spec.get("type", "ClusterIP") != "ClusterIP" or spec.get("externalIPs")
        if outside and not selects({"matchLabels": spec.get("selector", {})}, GATEWAY_POD):
            problems.append(f"{name_of(service)}: reachable from outside ({spec.get('type')})")
    for ingress in of_kind(docs, "Ingress"):
        spec = ingress["spec"]
        backends = [spec["defaultBackend"]] if "defaultBackend" in spec else []
        for rule in spec.get("rules", []):
            backends += [path["backend"] for path in rule.get("http", {}).get("paths", [])]
        names = [backend.get("service", {}).get("name") for backend in backends]
        if any(name != "gateway" for name in names):
            problems.append(f"{name_of(ingress)}: routes to {names}")
    policies = of_kind(docs, "NetworkPolicy")
    snapproxy_pods = [
        workload
        for workload in of_kind(docs, *WORKLOADS)
        if pod_labels(workload).get("app.kubernetes.io/part-of") == "snapproxy"
    ]
    if not snapproxy_pods:
        problems.append("no snapproxy pods")
    for workload in snapproxy_pods:
        labels = pod_labels(workload)
        mine = [p for p in policies if selects(p["spec"]["podSelector"], labels)]
        types = {kind for p in mine for kind in p["spec"].get("policyTypes", [])}
        if not {"Ingress", "Egress"} <= types:
            problems.append(f"{name_of(workload)}: not under an ingress and egress policy")
        if labels.get("app.kubernetes.io/component") == "gateway":
            continue
        for policy in mine:
            for rule in policy["spec"].get("ingress", []):
                peers = rule.get("from")
                if not peers:
                    problems.append(f"{name_of(policy)} lets anyone reach {name_of(workload)}")
                    continue
                for peer in peers:
                    # Pods of this namespace only (no namespaceSelector, no ipBlock), and
                    # of the rendered workloads only snapproxy's.
                    chosen = [
                        other
                        for other in of_kind(docs, *WORKLOADS)
                        if set(peer) == {"podSelector"}
                        and peer["podSelector"]
                        and selects(peer["podSelector"], pod_labels(other))
                    ]
                    inside = bool(chosen) and all(other in snapproxy_pods for other in chosen)
                    if not inside:
                        problems.append(
                            f"{name_of(policy)} lets {json.dumps(peer)} reach {name_of(workload)}"
                        )
    return problems


GATEWAY_POD = {
    "app.kubernetes.io/name": "snapproxy",
    "app.kubernetes.io/part-of": "snapproxy",
    "app.kubernetes.io/component": "gateway",
}


def kustomize_with_component(copy: Path, folder: str, overlay: str, component: str) -> list[Doc]:
    """``overlay`` of the tree ``copy`` with ``component`` added, as an operator adds one
    (a kustomization in ``copy/folder/<overlay's name>``), built by ``kubectl kustomize``."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to build deploy/k8s (`kubectl kustomize`)"
    tree = copy / folder / Path(overlay).name
    tree.mkdir(parents=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "snapproxy",
        "resources": [f"../../{overlay}"],
        "components": [f"../../{component}"],
    }
    (tree / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    result = subprocess.run(
        [kubectl, "kustomize", str(tree)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay} + {component}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
