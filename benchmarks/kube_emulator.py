"""How the Kubernetes API emulator scales with the number of objects (prints figures).

Run: .venv/bin/python -m benchmarks.kube_emulator

Creates N custom resources, then times a LIST, a merge patch of each object's status and a
watch replay from resourceVersion 0, for N = 50 and 200 (the Canary count coalmine's
operator must carry). Compare the per-object figures of the two sizes: a ratio near 1
means the cost per object stays flat.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.samples import GROUP, widget, widget_crd

MERGE = {"Content-Type": "application/merge-patch+json"}


async def _measure(count: int) -> dict[str, float]:
    async with KubeEmulator() as emulator:
        headers = {"Authorization": f"Bearer {emulator.token}"}
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(emulator.url, headers=headers, timeout=timeout) as http:
            crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
            await (await http.post(crds, json=widget_crd())).read()
            base = f"/apis/{GROUP}/v1/namespaces/default/widgets"
            started = time.perf_counter()
            for n in range(count):
                await (await http.post(base, json=widget(f"w{n}"))).read()
            created = time.perf_counter()
            await (await http.get(base)).read()
            listed = time.perf_counter()
            for n in range(count):
                patch = {"status": {"phase": "Ready"}}
                await (await http.patch(f"{base}/w{n}/status", json=patch, headers=MERGE)).read()
            patched = time.perf_counter()
            async with http.get(base, params={"watch": "true", "timeoutSeconds": "1"}) as stream:
                seen = 0
                async for _line in stream.content:
                    seen += 1
                    if seen == count:
                        break
            watched = time.perf_counter()
    return {
        "create ms/object": (created - started) * 1000 / count,
        "list ms": (listed - created) * 1000,
        "status patch ms/object": (patched - listed) * 1000 / count,
        "watch replay ms": (watched - patched) * 1000,
    }


async def main() -> None:
    small, large = await _measure(50), await _measure(200)
    print(f"{'figure':<26}{'N=50':>10}{'N=200':>10}{'ratio':>8}")
    for name in small:
        ratio = large[name] / small[name] if small[name] else float("nan")
        print(f"{name:<26}{small[name]:>10.2f}{large[name]:>10.2f}{ratio:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
