"""The dashboard in a real browser (chromium through Playwright) over a real local runtime."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from coalmine.api.canary import Phase
from tests.fixtures.analysis import load_through
from tests.fixtures.browser import Served
from tests.fixtures.local import NAMESPACE, demo_manifests, wait_for_phase

pytestmark = pytest.mark.slow

CANARY_PAGE = f"/canaries/{NAMESPACE}/go-demo-7"
WITHIN_MS = 90_000


async def test_a_canary_page_follows_a_promotion_and_a_rollback_without_reloading(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    runtime = served.runtime
    await runtime.apply(demo_manifests("0.0.1"), "test")
    await wait_for_phase(runtime, Phase.INITIALIZED)
    page = await browser.new_page(viewport={"width": 1200, "height": 1400})
    await page.goto(served.page(CANARY_PAGE))
    await expect(page.locator("#live")).to_contain_text("live", timeout=10_000)
    await page.evaluate("window.__notReloaded = true")

    async with load_through(runtime, "/demo/hello"):
        await runtime.apply(demo_manifests("0.0.2"), "test")
        for weight in (20, 40, 60):  # each step appears as the canary takes it
            step = page.locator(f'#weights tr.step[data-weight="{weight}"]')
            await expect(step).to_have_count(1, timeout=WITHIN_MS)
        await expect(page.locator("#verdict")).to_contain_text(
            "Succeeded: promoted after 20%, 40%, 60%", timeout=WITHIN_MS
        )
    assert await page.evaluate("window.__notReloaded") is True
    await expect(page.locator("#checks section.metric")).to_have_count(2)
    await expect(page.locator("#checks rect.band")).to_have_count(2)
    await expect(page.locator("#checks polyline.primary").first).to_be_attached()
    await expect(page.locator("#checks polyline.canary").first).to_be_attached()
    await expect(page.locator("#checks path.check.failed")).to_have_count(0)
    await page.screenshot(path=screenshots / "dashboard-canary-promoted.png", full_page=True)

    await runtime.apply(demo_manifests("0.0.3", env={"DEMO_ERROR_RATE": "1.0"}), "test")
    async with load_through(runtime, "/demo/random-error", rate=50):
        await expect(page.locator("#verdict")).to_contain_text(
            "Failed: rolled back", timeout=WITHIN_MS
        )
    assert await page.evaluate("window.__notReloaded") is True
    await expect(page.locator("#checks path.check.failed").first).to_be_attached()
    await expect(page.locator("#checks section.metric.failed")).to_have_count(1)
    await expect(page.locator("#events")).to_contain_text("Rolling back go-demo-7.go-demo-7")
    revisions = page.locator("#revisions tr.revision")
    await expect(revisions).to_have_count(3)
    await expect(revisions.nth(0)).to_contain_text("Failed")
    await expect(revisions.nth(1)).to_contain_text("Succeeded")
    await page.screenshot(path=screenshots / "dashboard-canary.png", full_page=True)

    await _step_in(served, page)
    await _overview(served, browser, screenshots)


async def _step_in(served: Served, page: Page) -> None:
    """A dismissed confirmation does nothing; an accepted one acts, on record."""
    answers = iter([False, True, True])

    async def on_dialog(dialog: Dialog) -> None:
        assert dialog.message.endswith(" go-demo-7?")
        await (dialog.accept() if next(answers) else dialog.dismiss())

    page.on("dialog", on_dialog)
    await expect(page.locator("button.promote")).to_be_disabled()
    await page.click("button.pause")
    await expect(page.locator("#said")).to_have_text("")
    stored = served.runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    assert stored is not None and not stored.manifest["spec"].get("suspend")
    await page.click("button.pause")
    await expect(page.locator("#said")).to_contain_text("paused by tester (dashboard)")
    await expect(page.locator("#status")).to_contain_text("(paused)", timeout=5_000)
    await expect(page.locator("#events")).to_contain_text("tester (dashboard)", timeout=5_000)
    await page.click("button.resume")
    await expect(page.locator("#said")).to_contain_text("resumed by tester (dashboard)")
    assert await page.evaluate("window.__notReloaded") is True


async def _overview(served: Served, browser: Browser, screenshots: Path) -> None:
    page = await browser.new_page(viewport={"width": 1200, "height": 400})
    await page.goto(served.page("/"))
    row = page.locator("tr.canary")
    await expect(row).to_have_count(1)
    await expect(page.locator("header .source")).to_have_text("coalmine up")  # no tmp path
    await expect(row.locator("td.phase")).to_have_text("Failed")
    await expect(row.locator("svg.sparkline")).to_be_attached()
    await page.select_option("select[name=phase]", "Succeeded")
    await page.click("form.filters button")
    await expect(page.locator("tr.canary")).to_have_count(0)
    await page.select_option("select[name=phase]", "Failed")
    await page.select_option("select[name=namespace]", NAMESPACE)
    await page.click("form.filters button")
    await expect(page.locator("tr.canary")).to_have_count(1)
    await page.screenshot(path=screenshots / "dashboard-overview.png")


async def test_hostile_names_and_messages_are_shown_as_text(
    served: Served, browser: Browser
) -> None:
    hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
    store = served.runtime.store
    manifest = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": hostile, "namespace": hostile, "labels": {"team": hostile}},
        "spec": {
            "targetRef": {"name": hostile},
            "analysis": {
                "interval": "1m",
                "metrics": [{"name": hostile, "thresholdRange": {"min": 1}, "query": hostile}],
                "webhooks": [{"name": hostile, "url": "http://x.example/"}],
            },
        },
    }
    store.put("Canary", hostile, hostile, manifest, owner=None)
    store.write_status(
        "Canary",
        hostile,
        hostile,
        {"phase": hostile, "lastAppliedSpec": hostile, "canaryWeight": 20},
    )
    store.add_event("Canary", hostile, hostile, "Warning", hostile, f"message {hostile}")
    store.add_tick(hostile, hostile, hostile, 20, 1, hostile)

    class Check:
        metric, value, passed, reason, query = hostile, 0.5, False, hostile, hostile
        range = type("R", (), {"min": 1.0, "max": None})()

    store.add_checks(hostile, hostile, hostile, [Check()])
    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(served.page("/"))
    link = page.locator("tr.canary a")
    await expect(link).to_have_text(hostile)
    await expect(page.locator("tr.canary td.phase")).to_have_text(hostile)
    await link.click()
    await expect(page.locator("h1")).to_contain_text(hostile)
    await expect(page.locator("#events")).to_contain_text(f"message {hostile}")
    await expect(page.locator("#checks h3")).to_have_text(hostile)
    await expect(page.locator("#live")).to_contain_text("live")
    store.add_event("Canary", hostile, hostile, "Warning", hostile, f"later {hostile}")
    await expect(page.locator("#events")).to_contain_text(f"later {hostile}", timeout=5_000)
    assert await page.evaluate("window.__xss") is None
    assert await page.locator("main img, main script").count() == 0
    assert errors == []


async def test_the_token_is_required(served: Served, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    for path in ("/", CANARY_PAGE, "/stream", "/static/dashboard.js"):
        answer = await page.goto(served.base + path)
        assert answer is not None and answer.status == 401, path
    answer = await page.goto(served.base + "/?token=wrong")
    assert answer is not None and answer.status == 401
    answer = await page.goto(served.url)
    assert answer is not None and answer.status == 200
    assert "token" not in page.url
    [cookie] = await context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] != served.token
    csrf = re.search(r'data-csrf="([0-9a-f]+)"', await page.content())
    assert csrf is not None
    answer = await page.goto(served.base + "/static/dashboard.js")
    assert answer is not None and answer.status == 200

    # The cookie alone does not let another origin act: Origin and the CSRF token are needed.
    jar = {cookie["name"]: cookie["value"]}
    async with aiohttp.ClientSession(cookies=jar) as http:
        url = f"{served.base}{CANARY_PAGE}/pause"
        async with http.post(url, headers={"Origin": "http://evil.example"}) as refused:
            assert refused.status == 403
        async with http.post(url, headers={"Origin": served.base}) as refused:
            assert refused.status == 403
        async with http.get(served.base + "/", headers={"Host": "evil.example"}) as rebound:
            assert rebound.status == 421
        headers = {"Origin": served.base, "X-CSRF-Token": csrf.group(1)}
        async with http.post(url, headers=headers) as answered:
            assert answered.status == 404  # allowed through: there is no such canary yet
