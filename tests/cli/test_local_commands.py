"""The kubectl-like commands against a running local runtime."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from coalmine.api.canary import Phase
from coalmine.cli.main import app
from coalmine.local.processes import PidFiles
from coalmine.local.runtime import LocalRuntime
from tests.fixtures.local import demo_manifests, wait_for_phase

pytestmark = pytest.mark.slow
runner = CliRunner()


async def coalmine(runtime: LocalRuntime, *args: str) -> Result:
    """Run a command in a thread, so the runtime keeps serving in the test's loop."""
    state = ["--state-dir", str(runtime.settings.state_dir)]
    return await asyncio.to_thread(runner.invoke, app, [*args, *state])


async def test_apply_get_describe_events_delete(
    local_runtime: LocalRuntime, tmp_path: Path
) -> None:
    manifest = tmp_path / "go-demo-7.yaml"
    manifest.write_text(demo_manifests("0.0.1"))
    applied = await coalmine(local_runtime, "apply", "-f", str(manifest))
    assert applied.exit_code == 0, applied.output
    assert applied.output.splitlines() == [
        "deployment/go-demo-7 created",
        "service/go-demo-7 created",
        "gateway/go-demo-7 created",
        "canary/go-demo-7 created",
    ]
    await wait_for_phase(local_runtime, Phase.INITIALIZED)

    canaries = await coalmine(local_runtime, "get", "canaries", "-n", "go-demo-7")
    header, row = canaries.output.splitlines()
    assert header.split() == ["NAME", "STATUS", "WEIGHT", "FAILEDCHECKS", "LASTTRANSITION", "OWNER"]
    assert row.split()[:4] == ["go-demo-7", "Initialized", "0", "0"]

    deployments = await coalmine(local_runtime, "get", "deployments", "-n", "go-demo-7")
    rows = {line.split()[0]: line.split() for line in deployments.output.splitlines()[1:]}
    assert rows["go-demo-7-primary"][1] == "2/2"
    assert rows["go-demo-7-primary"][-1] == "Canary/go-demo-7"
    assert rows["go-demo-7"][1] == "0/0"  # the target waits at zero for a new revision

    services = await coalmine(local_runtime, "get", "svc", "-A")
    assert "app=go-demo-7-primary" in services.output

    described = await coalmine(local_runtime, "describe", "canary", "go-demo-7", "-n", "go-demo-7")
    assert "Phase:           Initialized" in described.output
    assert "Strategy:     canary, steps +20% up to 60%" in described.output
    assert "Initialization done! go-demo-7.go-demo-7" in described.output

    shown = await coalmine(local_runtime, "metrics", "go-demo-7", "-n", "go-demo-7")
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "over 1m, from envoy stats (embedded)"
    assert lines[1].split() == ["METRIC", "PRIMARY", "CANARY"]
    assert lines[2].startswith("request rate")

    events = await coalmine(local_runtime, "events", "-n", "go-demo-7")
    assert "go-demo-7/go-demo-7: Initialization done! go-demo-7.go-demo-7" in events.output

    nothing = await coalmine(local_runtime, "get", "canaries")
    assert "No canaries found in namespace default; found in go-demo-7 (use -n or -A)" in (
        nothing.output
    )

    deleted = await coalmine(local_runtime, "delete", "-f", str(manifest))
    assert deleted.exit_code == 0, deleted.output
    assert "canary/go-demo-7 deleted" in deleted.output
    assert local_runtime.store.objects(namespace="go-demo-7") == []


async def test_a_refused_apply_lists_every_problem_and_changes_nothing(
    local_runtime: LocalRuntime, tmp_path: Path
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(
        demo_manifests("0.0.1")
        .replace("stepWeight: 20", "stepWeight: 120")
        .replace(
            "        - name: go-demo-7\n", "        - name: go-demo-7\n          resources: {}\n"
        )
    )
    refused = await coalmine(local_runtime, "apply", "-f", str(manifest))
    assert refused.exit_code == 1
    message = str(refused.exception)
    assert (
        "canary go-demo-7: spec.analysis.stepWeight: input should be less than or equal to 100"
        in message
    )
    assert (
        "deployment go-demo-7: spec.template.spec.containers[0].resources: not supported" in message
    )
    assert local_runtime.store.objects() == []


def test_commands_say_how_to_start_up_when_none_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "coalmine", "get", "canaries", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.strip() == (
        f"error: no coalmine up is running for state directory {tmp_path};"
        f" start one with: coalmine up --state-dir {tmp_path}"
    )


def test_up_runs_until_ctrl_c_and_leaves_nothing_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coalmine",
            "up",
            "--state-dir",
            str(state),
            "--gateway",
            "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (state / "api.json").exists():
            assert up.poll() is None, up.stdout.read() if up.stdout else ""
            assert time.monotonic() < deadline, "coalmine up did not publish its API"
            time.sleep(0.1)
        manifest = tmp_path / "app.yaml"
        manifest.write_text(demo_manifests("0.0.1", canary=False))
        apply = [
            sys.executable,
            "-m",
            "coalmine",
            "apply",
            "-f",
            str(manifest),
            "--state-dir",
            str(state),
        ]
        subprocess.run(apply, check=True, capture_output=True, timeout=30)
        pids = replica_pids(state, wait_for=2)
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, output
    assert "stopped" in output
    assert not (state / "api.json").exists()
    for pid in pids:
        assert not alive(pid), f"replica process {pid} survived coalmine up"


def replica_pids(state: Path, wait_for: int) -> list[int]:
    """Pids of the replicas `up` started, from its pid records, once there are enough."""
    deadline = time.monotonic() + 30
    while True:
        pids = [record.pid for record in PidFiles(state / "pids").read_all()]
        if len(pids) >= wait_for:
            return pids
        assert time.monotonic() < deadline, "replicas did not start"
        time.sleep(0.2)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


CONFIGS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: demo}
data: {GREETING: hello, MODE: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: demo}
stringData: {password: s3cret-value}
"""


async def test_get_configmaps_and_secrets_never_prints_a_secret_value(
    local_runtime: LocalRuntime, tmp_path: Path
) -> None:
    manifest = tmp_path / "configs.yaml"
    manifest.write_text(CONFIGS)
    applied = await coalmine(local_runtime, "apply", "-f", str(manifest))
    assert applied.output.splitlines() == ["configmap/settings created", "secret/creds created"]
    config_maps = await coalmine(local_runtime, "get", "cm", "-n", "demo")
    assert [line.split() for line in config_maps.output.splitlines()] == [
        ["NAME", "DATA", "OWNER"],
        ["settings", "2"],
    ]
    secrets = await coalmine(local_runtime, "get", "secrets", "-n", "demo")
    assert [line.split() for line in secrets.output.splitlines()] == [
        ["NAME", "TYPE", "DATA", "OWNER"],
        ["creds", "Opaque", "1"],
    ]
    as_yaml = await coalmine(local_runtime, "get", "secrets", "-n", "demo", "-o", "yaml")
    assert "password: '<hidden: use --show-secrets>'" in as_yaml.output
    assert "s3cret" not in as_yaml.output and "czNjcmV0" not in as_yaml.output
    shown = await coalmine(
        local_runtime, "get", "secrets", "-n", "demo", "-o", "yaml", "--show-secrets"
    )
    assert "password: czNjcmV0LXZhbHVl" in shown.output


GATEWAY_API = """
apiVersion: v1
kind: Service
metadata: {name: app, namespace: demo}
spec: {selector: {app: app}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: demo}
spec:
  gatewayClassName: coalmine
  listeners: [{name: web, port: 80, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: public, namespace: demo}
spec: {servers: [{port: {number: 80, protocol: HTTP}, hosts: [istio.example.com]}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: demo}
spec:
  parentRefs: [{name: public}]
  hostnames: [app.example.com]
  rules: [{backendRefs: [{name: app, port: 80, weight: 3}]}]
"""


async def test_gateway_api_objects_are_applied_listed_and_described_beside_istios(
    local_runtime: LocalRuntime, tmp_path: Path
) -> None:
    manifest = tmp_path / "gateway-api.yaml"
    manifest.write_text(GATEWAY_API)
    applied = await coalmine(local_runtime, "apply", "-f", str(manifest))
    assert applied.output.splitlines() == [
        "service/app created",
        "gateway.gateway.networking.k8s.io/public created",
        "gateway/public created",
        "httproute/app created",
    ]
    routes = await coalmine(local_runtime, "get", "httproutes", "-n", "demo")
    assert [line.split() for line in routes.output.splitlines()] == [
        ["NAME", "PARENTS", "HOSTNAMES", "BACKENDS", "OWNER"],
        ["app", "public", "app.example.com", "app", "3"],
    ]
    gateway_api = await coalmine(
        local_runtime, "get", "gateways.gateway.networking.k8s.io", "-n", "demo", "-o", "json"
    )
    assert '"gatewayClassName": "coalmine"' in gateway_api.output
    istio = await coalmine(local_runtime, "get", "gateways", "-n", "demo", "-o", "json")
    assert "istio.example.com" in istio.output and "gatewayClassName" not in istio.output
    described = await coalmine(local_runtime, "describe", "httproute", "app", "-n", "demo")
    assert described.exit_code == 0, described.output
    assert "app.example.com" in described.output
