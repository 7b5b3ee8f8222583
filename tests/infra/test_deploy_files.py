"""What the deployment files promise (docs/deploy.md): on Kubernetes, the gateway as 2+
replicas with its probes, secrets from a Secret, an autoscaler and a disruption budget,
migrations as a Job, every object valid against Kubernetes' schemas; in compose, two gateway
replicas without a fixed host port and a router whose supergraph was composed at build."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "infra" / "deploy"
K8S = DEPLOY / "k8s"


def rendered(folder: Path) -> list[dict]:
    """The kustomization's objects: rendered by kubectl's kustomize where there is one, else
    the files it lists (what kustomize adds, the namespace and labels, aside)."""
    if shutil.which("kubectl"):
        out = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        return [o for o in yaml.safe_load_all(out) if o]
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    return [o for name in listed for o in yaml.safe_load_all((folder / name).read_text()) if o]


def find(objects: list[dict], kind: str, name: str) -> dict:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_the_gateway_runs_as_replicas_with_probes_secrets_scaling_and_a_budget():
    objects = rendered(K8S)
    gateway = find(objects, "Deployment", "pointgate")
    [container] = gateway["spec"]["template"]["spec"]["containers"]
    hpa = find(objects, "HorizontalPodAutoscaler", "pointgate")
    budget = find(objects, "PodDisruptionBudget", "pointgate")
    router = find(objects, "Deployment", "router")
    [routing] = router["spec"]["template"]["spec"]["containers"]

    assert gateway["spec"]["replicas"] >= 2 and hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["scaleTargetRef"]["name"] == "pointgate"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"secretRef": {"name": "pointgate"}} in container["envFrom"]
    # no secret is written in the manifests: the ConfigMap holds none of them
    config = find(objects, "ConfigMap", "pointgate")["data"]
    assert not {"DATABASE_URL", "POINTGATE_DATA_KEYS", "POINTGATE_ROUTER_TOKEN"} & set(config)
    assert budget["spec"]["selector"] == gateway["spec"]["selector"]
    assert find(objects, "Service", "pointgate")["spec"]["selector"] == (
        gateway["spec"]["selector"]["matchLabels"])  # fmt: skip
    token = [e for e in routing["env"] if e["name"] == "POINTGATE_ROUTER_TOKEN"]
    assert token[0]["valueFrom"]["secretKeyRef"]["name"] == "pointgate"
    assert {o["kind"] for o in objects} >= {"Namespace", "Service", "Deployment", "ConfigMap"}


def test_migrations_are_a_job_of_their_own_applied_first():
    [job] = rendered(K8S / "migrate")
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert job["kind"] == "Job" and container["args"] == ["pointgate", "migrate"]
    assert all(o["kind"] != "Job" for o in rendered(K8S))


@pytest.mark.parametrize("folder", [K8S, K8S / "migrate"], ids=["k8s", "migrate"])
def test_every_object_is_valid_against_kubernetes_schemas(folder, tmp_path):
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(rendered(folder)))
    validate = Path(sys.executable).parent / "kubernetes-validate"
    checked = subprocess.run([str(validate), "--strict", "-k", "1.31.0", str(manifest)],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_misspelt_field_is_caught_by_the_schema_check(tmp_path):
    broken = find(rendered(K8S), "Deployment", "pointgate")
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    manifest = tmp_path / "broken.yaml"
    manifest.write_text(yaml.safe_dump(broken))
    validate = Path(sys.executable).parent / "kubernetes-validate"
    checked = subprocess.run([str(validate), "--strict", "-k", "1.31.0", str(manifest)],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode != 0 and "replica" in checked.stdout + checked.stderr


def test_compose_runs_two_gateways_behind_a_router_composed_at_build():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    gateway, router = services["gateway"], services["router"]
    assert gateway["deploy"]["replicas"] == 2
    # no fixed host port (two replicas could not share one): "[ip:][host:]container"
    hosts = [str(port).rsplit(":", 1)[0].split(":")[-1] if ":" in str(port) else ""
             for port in gateway.get("ports", [])]  # fmt: skip
    assert hosts == [""] * len(hosts)
    assert router["build"]["target"] == "router" and "image" not in router
    # nothing composes (or installs from a registry) when the stack starts
    assert not any("npm" in str(service.get("command", "")) for service in services.values())
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "AS router" in dockerfile and "node compose.mjs" in dockerfile
