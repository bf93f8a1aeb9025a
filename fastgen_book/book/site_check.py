"""Open every page of the built book in headless Chromium, offline, and report what a reader
would see broken: undrawn charts, chart text unreadable against its background (in the light and
the dark theme), broken images, empty outputs, stderr, warnings or absolute machine paths in a
cell's output, script errors, dead downloads, and any request that tries to leave the machine.

Used by the test suite; also runnable by hand: `python -m fastgen_book check-site _build/html`.
Needs Playwright for Python (the `dev` extra) and Debian's Chromium (`apt-get install chromium`).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = os.environ.get("FASTGEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
COLOR_SCHEMES = ("light", "dark")

DRAW_TIMEOUT_MS = 20_000
_ALL_DRAWN = """
() => [...document.querySelectorAll('.plotly-graph-div')]
  .every(d => d.querySelector('svg.main-svg'))
"""
# Evaluated in the page once it has settled.
_PAGE_PROBE = r"""
() => {
  const charts = [...document.querySelectorAll('.plotly-graph-div')];
  const undrawn = charts.filter(d => !d.querySelector('svg.main-svg')).map(d => d.id);
  const broken = [...document.images]
    .filter(i => !(i.complete && i.naturalWidth > 0))
    .map(i => i.getAttribute('src'));
  const empty = [...document.querySelectorAll('.cell_output')]
    .filter(o => o.innerText.trim() === '' && !o.querySelector('img, svg, .plotly-graph-div'))
    .length;
  const downloads = [...document.querySelectorAll('a.download, a.reference.download')]
    .map(a => a.href);
  // Contrast of each chart's text against what is really behind it (WCAG 2 ratio).
  const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const backdrop = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const lowContrast = charts.filter(d => d.querySelector('svg.main-svg')).filter(d => {
    const text = d.querySelector(
      '.gtitle, .xtitle, .ytitle, .legendtext, .xtick text, .annotation-text');
    if (!text) return false;
    const a = lum(rgb(getComputedStyle(text).fill)), b = lum(backdrop(d));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) < 3;
  }).map(d => d.id);
  // a MyST role that was not parsed (a missing backtick) shows as raw text, e.g. {glue:text}`x
  const rawRoles = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest('pre, code, script, style')) continue;
    rawRoles.push(...(node.textContent.match(/\{[a-z-]+(:[a-z-]+)?\}`[^`\s]*/g) || []));
  }
  // what only the build machine should have seen: stderr, warnings, its own file paths
  const outputs = [...document.querySelectorAll('.cell_output')];
  const stderr = outputs.flatMap(o => [...o.querySelectorAll('.stderr')])
    .map(e => e.innerText.trim().slice(0, 160));
  const warned = outputs.flatMap(o => o.innerText.match(/\b\w*Warning: .{0,80}/g) || []);
  const pathRe = new RegExp(
    String.raw`/(?:home|root|tmp|work|usr|opt|var|Users|private)/[^\s'"]+` +
    String.raw`|[A-Z]:\\[^\s'"]+|site-packages[^\s'"]*`, 'g');
  const paths = outputs.flatMap(o => o.innerText.match(pathRe) || []);
  return {charts: charts.length, undrawn, broken, empty, downloads, lowContrast, rawRoles,
          stderr, warned, paths};
}
"""


@dataclass
class PageReport:
    """What one page showed in the browser."""

    path: str
    scheme: str = "light"
    charts: int = 0
    undrawn_charts: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    empty_outputs: int = 0
    dead_downloads: list[str] = field(default_factory=list)
    low_contrast_charts: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    raw_roles: list[str] = field(default_factory=list)
    stderr_outputs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    machine_paths: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = []
        if self.undrawn_charts:
            out.append(f"charts not drawn: {self.undrawn_charts}")
        if self.broken_images:
            out.append(f"broken images: {self.broken_images}")
        if self.empty_outputs:
            out.append(f"{self.empty_outputs} empty cell output(s)")
        if self.low_contrast_charts:
            out.append(f"chart text unreadable (contrast < 3:1): {self.low_contrast_charts}")
        if self.dead_downloads:
            out.append(f"dead download links: {self.dead_downloads}")
        if self.raw_roles:
            out.append(f"MyST roles shown as raw text (a missing backtick?): {self.raw_roles}")
        if self.stderr_outputs:
            out.append(f"stderr in cell outputs: {self.stderr_outputs}")
        if self.warnings:
            out.append(f"warnings in cell outputs: {self.warnings}")
        if self.machine_paths:
            out.append(
                f"the build machine's paths in cell outputs: {sorted(set(self.machine_paths))}"
            )
        if self.console_errors:
            out.append(f"JavaScript console errors: {self.console_errors}")
        if self.external_requests:
            out.append(f"requests leaving the machine: {self.external_requests}")
        return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output readable
        pass


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` on a free port of 127.0.0.1 for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def built_pages(html_root: Path) -> list[str]:
    """The content pages of the built book (relative paths), skipping Sphinx's own pages."""
    skip = {"genindex.html", "search.html", "index.html"}
    return sorted(
        p.relative_to(html_root).as_posix()
        for p in html_root.rglob("*.html")
        if p.name not in skip
        and not any(part.startswith(("_", ".")) for part in p.relative_to(html_root).parts)
    )


def check_site(
    html_root: Path | str, pages: list[str] | None = None, screenshot_dir: Path | None = None
) -> list[PageReport]:
    """Open each page offline in headless Chromium and collect a report per page."""
    from playwright.sync_api import sync_playwright

    html_root = Path(html_root)
    if not (html_root / "index.html").exists():
        raise FileNotFoundError(f"{html_root} holds no built book; run `make book` first")
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(
            f"no Chromium at {CHROMIUM}; install Debian's package (apt-get install -y chromium) "
            "or set FASTGEN_CHROMIUM"
        )
    pages = pages or built_pages(html_root)
    reports = []
    with serve(html_root) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for scheme in COLOR_SCHEMES:  # the reader's OS setting picks the theme
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900}, color_scheme=scheme
                )
                for rel in pages:
                    shots = screenshot_dir / scheme if screenshot_dir else None
                    reports.append(_check_page(context, base, rel, shots, scheme))
                context.close()
        finally:
            browser.close()
    return reports


def _check_page(
    context, base: str, rel: str, screenshot_dir: Path | None, scheme: str
) -> PageReport:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    report = PageReport(rel, scheme)
    page = context.new_page()

    def route(r):
        url = urlparse(r.request.url)
        if url.scheme in ("data", "blob") or url.hostname in LOCAL_HOSTS:
            r.continue_()
        else:
            report.external_requests.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on(
        "console",
        lambda m: report.console_errors.append(m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: report.console_errors.append(str(e)))
    page.goto(f"{base}/{rel}", wait_until="load")
    try:  # Plotly draws asynchronously after load; give each chart time to appear
        page.wait_for_function(_ALL_DRAWN, timeout=DRAW_TIMEOUT_MS)
    except PlaywrightTimeout:
        pass  # the probe below names the charts that never drew
    probe = page.evaluate(_PAGE_PROBE)
    report.charts = probe["charts"]
    report.undrawn_charts = probe["undrawn"]
    report.broken_images = probe["broken"]
    report.empty_outputs = probe["empty"]
    report.low_contrast_charts = probe["lowContrast"]
    report.raw_roles = probe["rawRoles"]
    report.stderr_outputs = probe["stderr"]
    report.warnings = probe["warned"]
    report.machine_paths = probe["paths"]
    for href in probe["downloads"]:
        response = page.request.get(href)
        if not response.ok:
            report.dead_downloads.append(href)
    if screenshot_dir is not None:
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        name = rel.replace("/", "__").removesuffix(".html")
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
    page.close()
    return report
