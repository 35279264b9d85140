"""The live events dashboard in a real browser: connect, subscribe, watch events and progress."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from events.broadcaster import get_broadcaster
from tests.support.browser import chromium_page
from tests.support.servers import LiveServer, running


async def open_connected(page: Page, server: LiveServer) -> None:
    await page.goto(server.url + "/ws/dashboard")
    await page.click("#use-dev-token")
    await expect(page.locator("#token")).not_to_have_value("")
    await page.click("#connect")
    await expect(page.locator("#state")).to_have_attribute("data-state", "connected")


async def subscribe(page: Page, room: str) -> None:
    await page.fill("#room", room)
    await page.click("#subscribe")
    item = page.locator(f'#subscriptions li[data-room="{room}"]')
    await expect(item).to_have_attribute("data-status", "subscribed")


@pytest.fixture
async def own_server() -> AsyncIterator[LiveServer]:
    """A server of its own: the test cuts every connection it has."""
    async with running(LiveServer()) as server:
        get_broadcaster().attach(server.app.state.transport, observer=server.app.state.metrics)
        yield server


async def test_events_and_workflow_progress_appear_live(own_server: LiveServer, tmp_path: Path) -> None:
    server = own_server
    workflow_id, project_id = uuid.uuid4(), uuid.uuid4()
    broadcaster = get_broadcaster()
    async with chromium_page() as browser:
        page = browser.page
        await open_connected(page, server)
        await expect(page.locator('#events tr[data-type="connection.established"]')).to_have_count(1)
        await expect(page.locator("#sid")).not_to_have_text("–")
        # The room is typed in upper case: the page keeps the server's canonical name.
        await page.fill("#room", f"workflow:{str(workflow_id).upper()}")
        await page.click("#subscribe")
        await expect(
            page.locator(f'#subscriptions li[data-room="workflow:{workflow_id}"]')
        ).to_have_attribute("data-status", "subscribed")
        await subscribe(page, f"project:{project_id}")

        await broadcaster.broadcast_workflow_started(
            workflow_id=workflow_id, project_id=project_id, workflow_type="code_review", total_steps=4
        )
        bar = page.locator(f'.workflow[data-workflow-id="{workflow_id}"]')
        await expect(bar).to_have_attribute("data-progress", "0")
        for percent, step in ((30, "Cloning"), (70, "Running tests")):
            await broadcaster.broadcast_workflow_progress(
                workflow_id=workflow_id, project_id=project_id, progress=percent, current_step=step,
                total_steps=4, step_number=percent // 25,
            )  # fmt: skip
            await expect(bar).to_have_attribute("data-progress", str(percent))
            assert await bar.locator("progress").evaluate("p => p.value") == percent
            await expect(bar.locator(".step")).to_contain_text(step)

        # Delivered through both rooms: two rows, one per room, same payload.
        rows = page.locator('#events tr[data-type="workflow.progress"]')
        await expect(rows).to_have_count(4)
        await expect(rows.first).to_contain_text('"progress": 70')
        await expect(page.locator(f'#events tr[data-room="project:{project_id}"]')).to_have_count(3)

        # A network cut: the page reconnects by itself, shows it, and joins its rooms again.
        sid = await page.locator("#sid").text_content()
        assert sid and server.cut_connections() >= 1
        await expect(page.locator("#reconnects")).to_have_text("1")
        await expect(page.locator("#state")).to_have_attribute("data-state", "connected")
        await expect(page.locator("#sid")).not_to_have_text(sid)
        await expect(page.locator("#log")).to_contain_text("disconnected: transport close")
        await expect(page.locator('#subscriptions li[data-status="subscribed"]')).to_have_count(2)

        await broadcaster.broadcast_workflow_completed(workflow_id=workflow_id, duration_seconds=3.5)
        await expect(bar).to_have_attribute("data-status", "completed")
        await expect(bar).to_have_attribute("data-progress", "100")
        await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert browser.errors == []
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


async def test_a_test_event_of_the_chosen_type_arrives_in_a_subscribed_room(server: LiveServer) -> None:
    """Development: the page publishes its sample of a type through POST /api/events, to a room it is in."""
    workflow_id, project_id = uuid.uuid4(), uuid.uuid4()
    workflow, project = f"workflow:{workflow_id}", f"project:{project_id}"
    async with chromium_page() as browser:
        page = browser.page
        await open_connected(page, server)
        await expect(page.locator("#test-event-form")).to_be_visible()
        await expect(page.locator("#send-test")).to_be_disabled()  # no room yet
        await subscribe(page, project)
        await subscribe(page, workflow)
        await page.select_option("#test-room", workflow)
        # Only the types that can reach a workflow room are offered for it.
        offered = await page.locator("#test-type option").all_text_contents()
        assert offered == ["workflow.started", "workflow.progress", "workflow.completed", "workflow.failed"]
        await page.select_option("#test-type", "workflow.progress")
        await page.click("#send-test")
        row = page.locator(f'#events tr[data-type="workflow.progress"][data-room="{workflow}"]')
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text(f'"workflow_id": "{workflow_id}"')
        await expect(page.locator("#log")).to_contain_text(f"sent workflow.progress to {workflow}")
        await expect(page.locator(f'.workflow[data-workflow-id="{workflow_id}"]')).to_have_attribute(
            "data-progress", "50"
        )
        # Another room, another type: the field that routes it is set to that room's id.
        await page.select_option("#test-room", project)
        await page.select_option("#test-type", "pr.created")
        await page.click("#send-test")
        sent = page.locator(f'#events tr[data-type="pr.created"][data-room="{project}"]')
        await expect(sent).to_have_count(1)
        assert browser.errors == []


async def test_the_dev_token_button_is_offered_to_this_machine_only(server: LiveServer) -> None:
    """A page reached under another name (DNS rebinding: evil.example resolving to 127.0.0.1)
    neither shows the button nor gets a token when it asks anyway."""
    async with chromium_page() as browser:
        await browser.page.goto(server.url + "/ws/dashboard")
        await expect(browser.page.locator("body")).to_have_attribute("data-dev-token", "available")
        await expect(browser.page.locator("#use-dev-token")).to_be_visible()
        await expect(browser.page.locator("#test-event-form")).to_be_visible()
    rebinding = "--host-resolver-rules=MAP evil.example 127.0.0.1"
    async with chromium_page(rebinding) as browser:
        page = browser.page
        await page.goto(f"http://evil.example:{server.port}/ws/dashboard")
        # The server's answer has arrived (the barrier), and the button stayed hidden.
        await expect(page.locator("body")).to_have_attribute("data-dev-token", "unavailable")
        await expect(page.locator("#use-dev-token")).to_be_hidden()
        await expect(page.locator("#test-event-form")).to_be_hidden()
        assert await page.evaluate("fetch('/ws/dev/samples').then((r) => r.status)") == 403
        # The page's own code asks anyway: the refusal is shown, and no token lands in the field.
        await page.evaluate("useDevToken()")
        await expect(page.locator("#log")).to_contain_text("no development token: Development helpers answer")
        await expect(page.locator("#token")).to_have_value("")
        answer = await page.evaluate("fetch('/ws/dev-token').then((r) => r.status)")
        assert answer == 403
        assert [e for e in browser.errors if "403" not in e] == []


async def test_a_refused_token_is_shown_and_not_retried(server: LiveServer) -> None:
    async with chromium_page() as browser:
        page = browser.page
        await page.goto(server.url + "/ws/dashboard")
        await page.fill("#token", "not-a-token")
        await page.click("#connect")
        await expect(page.locator("#state")).to_have_attribute("data-state", "refused")
        await expect(page.locator("#log")).to_contain_text("AUTH_INVALID")
        await expect(page.locator("#reconnects")).to_have_text("0")


async def test_dashboard_is_served_with_its_own_socket_io_bundle(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/ws/dashboard")
        bundle = await http.get("/ws/static/socket.io.min.js")
        missing = await http.get("/ws/static/config.py")
        traversal = await http.get("/ws/static/..%2Fconfig.py")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, nothing remote
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.content.startswith(b"/*!\n * Socket.IO v4.8.4")
    assert missing.status_code == 404
    assert missing.json()["detail"]["code"] == "NOT_FOUND"
    assert traversal.status_code == 404


async def test_dashboard_can_be_switched_off() -> None:
    async with (
        running(LiveServer(dashboard_enabled="false")) as off,
        httpx.AsyncClient(base_url=off.url) as http,
    ):
        assert (await http.get("/ws/dashboard")).status_code == 404
        assert (await http.get("/ws/static/dashboard.js")).status_code == 404
