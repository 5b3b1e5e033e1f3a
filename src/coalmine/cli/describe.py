"""`coalmine describe canary NAME`: a canary's spec in brief, its status, its recent events."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from coalmine.cli.common import Namespace, StateDir, age, client, table

__all__ = ["describe", "render_canary", "render_object"]


def describe(
    resource: Annotated[
        str,
        typer.Argument(help="canary, or any kind of object (its manifest, and quarantine)."),
    ],
    name: Annotated[str, typer.Argument(help="Name of the object.")],
    state_dir: StateDir,
    namespace: Namespace = "default",
    events: Annotated[int, typer.Option(help="How many recent events to show.")] = 20,
) -> None:
    """Show a canary: what it does, where it is, and what happened lately.

    Other kinds show their stored manifest; an object quarantined at start-up (it cannot
    be served) shows why and how to fix it.

    Example:  coalmine describe canary go-demo-7 -n go-demo-7
    """
    from coalmine.cli.get import KINDS
    from coalmine.errors import CoalmineError

    kind = KINDS.get(resource.lower())
    if kind is None:
        raise CoalmineError(f"unknown resource {resource!r}; use one of {', '.join(sorted(KINDS))}")
    local = client(state_dir)
    item = local.get(kind, namespace, name)
    recent = local.events(namespace, name, limit=events)
    if kind == "Canary" and not item.get("quarantined"):
        typer.echo(render_canary(item, recent))
    else:
        typer.echo(render_object(item))


def render_object(item: dict[str, Any]) -> str:
    """Any stored object: name, owner, quarantine (with the fix) and its manifest as YAML."""
    import yaml

    from coalmine.api.redaction import redact_object

    lines = [
        f"Name:         {item['name']}",
        f"Namespace:    {item['namespace']}",
        f"Kind:         {item['kind']}",
        f"Owner:        {item.get('owner') or '<none>'}",
    ]
    quarantined = item.get("quarantined")
    if quarantined:
        lines += [
            "Quarantined:  yes, not served since coalmine up started",
            f"  Reason:     {quarantined['reason']}",
            f"  Fix:        {quarantined['fix']}",
        ]
    manifest = redact_object(item["kind"], item["manifest"])
    lines += ["Manifest:", *("  " + line for line in yaml.safe_dump(manifest).splitlines())]
    return "\n".join(lines)


def render_canary(item: dict[str, Any], events: list[dict[str, Any]]) -> str:
    spec = item["manifest"]["spec"]
    status = item.get("status") or {}
    analysis = spec["analysis"]
    lines = [
        f"Name:         {item['name']}",
        f"Namespace:    {item['namespace']}",
        f"Target:       Deployment/{spec['targetRef']['name']}",
        f"Service:      port {spec['service']['port']}",
        f"Strategy:     {_strategy(analysis)}",
        f"Interval:     {analysis.get('interval', '1m')}, "
        f"threshold {analysis.get('threshold') or 1} failed checks",
        "Metrics:",
        *(f"  {m['name']}: {_range(m)}" for m in analysis.get("metrics", [])),
        "Status:",
        f"  Phase:           {status.get('phase') or '<pending>'}",
        f"  Canary weight:   {status.get('canaryWeight', 0)}%",
        f"  Failed checks:   {status.get('failedChecks', 0)}/{analysis.get('threshold') or 1}",
        f"  Iterations:      {status.get('iterations', 0)}",
        f"  Last transition: {age(status.get('lastTransitionTime'))} ago",
    ]
    tracked = status.get("trackedConfigs") or {}
    if tracked:
        lines.append("Tracked configs:")
        lines += [f"  {key}: {tracked[key]}" for key in sorted(tracked)]
    checks = status.get("checks") or []
    if checks:
        lines.append("Last checks:")
        lines += [f"  {_check(c)}" for c in checks]
    lines += _judge(analysis.get("judge"), status.get("judge"))
    lines.append("Events:")
    rows = [[e["type"], age(e["time"]), e["message"]] for e in events]
    lines += ["  " + line for line in table(["TYPE", "AGE", "MESSAGE"], rows).splitlines()]
    return "\n".join(lines)


def _judge(spec: dict[str, Any] | None, status: dict[str, Any] | None) -> list[str]:
    """The judge's margins, then each check's estimate, interval and verdict."""
    if not spec:
        return []
    parts = []
    if spec.get("errors"):
        parts.append(f"errors +{spec['errors']['maxIncrease']} pt")
    if spec.get("latency"):
        latency = spec["latency"]
        quantile = 100 * float(latency.get("quantile", 0.99))
        parts.append(f"latency p{quantile:g} +{latency.get('maxIncrease', '10%')}")
    confidence = 100 * float(spec.get("confidence", 0.99))
    lines = [
        f"Judge:        {', '.join(parts)} at {confidence:g} % confidence, "
        f"at most {spec.get('maxAnalysisTime', '30m')}"
    ]
    for check in (status or {}).get("checks") or []:
        lines.append(f"  {check['message']}")
    return lines


def _strategy(analysis: dict[str, Any]) -> str:
    if analysis.get("iterations"):
        kind = "A/B testing" if analysis.get("match") else "blue/green"
        return f"{kind}, {analysis['iterations']} iterations"
    steps = analysis.get("stepWeights") or f"+{analysis.get('stepWeight')}%"
    mirror = ", mirroring first" if analysis.get("mirror") else ""
    return f"canary, steps {steps} up to {analysis.get('maxWeight', 100)}%{mirror}"


def _range(metric: dict[str, Any]) -> str:
    bounds = metric.get("thresholdRange") or {"min": metric.get("threshold")}
    parts = []
    if bounds.get("min") is not None:
        parts.append(f">= {bounds['min']}")
    if bounds.get("max") is not None:
        parts.append(f"<= {bounds['max']}")
    return " and ".join(parts) + f" over {metric.get('interval', '1m')}"


def _check(check: dict[str, Any]) -> str:
    verdict = "ok" if check.get("passed") else "FAILED"
    value = check.get("value")
    shown = f"{value:.2f}" if value is not None else f"no data ({check.get('reason', '')})"
    return f"{check['name']}: {shown} {verdict}"
