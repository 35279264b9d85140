"""Headless Chromium (Debian's package) driven by Playwright, for pages the server serves.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(`require()` skips locally when it is missing and fails in CI).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from playwright.async_api import ConsoleMessage, Page, async_playwright

from tests.support.redis import require

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class BrowserPage:
    page: Page
    errors: list[str] = field(default_factory=list)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@asynccontextmanager
async def chromium_page(*extra_args: str) -> AsyncIterator[BrowserPage]:
    """A fresh page; page errors and console errors (CSP violations among them) are recorded.

    `extra_args` go to Chromium, e.g. `--host-resolver-rules=MAP evil.example 127.0.0.1`.
    """
    executable = require("chromium", "the dashboard is tested in a real browser")
    async with async_playwright() as playwright:
        args = [*CHROMIUM_ARGS, *extra_args]
        browser = await playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            wrapped = BrowserPage(page)
            page.on("pageerror", lambda exc: wrapped.errors.append(f"page: {exc}"))
            page.on("console", wrapped._on_console)
            yield wrapped
        finally:
            await browser.close()
