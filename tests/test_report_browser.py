"""The HTML report in a real headless Chromium, at a desktop and a phone width: nothing widens the page, every
figure paints, each claim's verdict is visible on the front page, and sorting orders rows by their numbers.

Uses the system's Chromium (``chromium`` on PATH, or /usr/bin/chromium) through Playwright; nothing is downloaded.
Without one the tests are skipped, unless ``SUITE_REQUIRE_BROWSER=1`` (set by CI), which makes that a failure."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from pathlib import Path

import pytest


WIDTHS = {"desktop": (1280, 900), "phone": (400, 800)}


def chromium() -> str | None:
    """The system's Chromium, or None."""
    for name in ("chromium", "chromium-browser"):
        if found := shutil.which(name):
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _unavailable(why: str):
    if os.environ.get("SUITE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"SUITE_REQUIRE_BROWSER=1 but {why}", pytrace=False)
    pytest.skip(why)


def screenshot(page, directory: Path, name: str, full_page: bool = True) -> Path:
    """A PNG of the page (all of it by default) as it is now, at ``directory/name.png``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@contextlib.contextmanager
def screenshot_on_failure(page, directory: Path):
    """A failed check inside names a full-page screenshot of what the browser showed (a few seconds and megabytes
    each, so not taken when all is well)."""
    try:
        yield
    except AssertionError as exc:
        shot = screenshot(page, directory, f"report-{page.width_name}")
        raise AssertionError(f"{exc}\nfull-page screenshot at {page.width_name} width: {shot}") from None


@pytest.fixture(scope="module")
def browser():
    exe = chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -c constraints.txt -e '.[dev]')")
    if exe is None:
        _unavailable("no Chromium found (chromium on PATH or /usr/bin/chromium; Debian: apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"], headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def report(browser, report_build) -> Path:
    """report.html of a real smoke-tier store (tests/conftest.py), asked for after the browser is found: without
    one, nothing is trained."""
    return report_build["out"] / "report.html"


@pytest.fixture(scope="module", params=list(WIDTHS))
def page(request, browser, report):
    width, height = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    p = context.new_page()
    errors = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.goto(report.as_uri(), wait_until="load")
    p.width_name, p.errors = request.param, errors
    yield p
    context.close()


def test_nothing_widens_the_page(page, tmp_path):
    m = page.evaluate("""() => {
        const s = document.querySelector('#summary'), d = document.documentElement, w = window.innerWidth;
        // what sticks out of the viewport outside a .table-wrap (which may scroll within itself)
        const out = [...document.body.querySelectorAll('*')].filter(e => {
            if (e.closest('.table-wrap')) return false;
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.right > w + 1;
        }).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                                (typeof e.className === 'string' && e.className ? '.' + e.className : ''));
        return {summary: s && [s.scrollWidth, s.clientWidth], doc: d.scrollWidth, inner: w, out};
    }""")
    with screenshot_on_failure(page, tmp_path):
        assert m["summary"] is not None, "no #summary section"
        assert m["summary"][0] <= m["summary"][1] + 1, f"#summary overflows at {page.width_name} width: {m}"
        assert m["doc"] <= m["inner"] + 1, f"the page scrolls sideways at {page.width_name} width: {m}"
    assert not page.errors, f"script errors: {page.errors}"


def test_every_figure_renders(page, tmp_path):
    imgs = page.locator("figure img")
    assert imgs.count() > 0
    for img in imgs.all():  # into view, in case they load lazily
        img.scroll_into_view_if_needed()
    page.wait_for_function("[...document.querySelectorAll('figure img')].every(i => i.complete)", timeout=10_000)
    bad = page.evaluate("""() => [...document.querySelectorAll('figure img')]
        .filter(i => !(i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0))
        .map(i => (i.closest('figure').id || '') + ' ' + (i.alt || '').slice(0, 60))""")
    with screenshot_on_failure(page, tmp_path):
        assert not bad, f"figures not rendered at {page.width_name} width: {bad}"


def test_matrix_shows_each_claims_verdict(page, tmp_path):
    matrix = page.locator("#matrix")
    assert matrix.count() == 1, "no #matrix (the claim x hypothesis matrix) on the front page"
    assert matrix.is_visible()
    rows = page.evaluate("""() => {
        const w = window.innerWidth;
        return [...document.querySelectorAll('#matrix [data-ablation]')].map(row => {
            const b = row.querySelector('.badge');
            if (!b) return {name: row.dataset.ablation, badge: null};
            b.scrollIntoView({block: 'center', inline: 'nearest'});
            const r = b.getBoundingClientRect(), style = getComputedStyle(b);
            // clipped by a scrolling ancestor (a .table-wrap scrolled or too narrow)?
            let clipped = false;
            for (let a = b.parentElement; a; a = a.parentElement) {
                const ox = getComputedStyle(a).overflowX;
                if (ox !== 'visible') {
                    const ar = a.getBoundingClientRect();
                    if (r.left < ar.left - 1 || r.right > ar.right + 1) clipped = true;
                }
            }
            return {name: row.dataset.ablation, badge: b.textContent.trim(), left: r.left, right: r.right,
                    width: r.width, height: r.height, shown: style.visibility !== 'hidden' && style.display !== 'none'
                    && +style.opacity > 0, clipped, inner: w};
        });
    }""")
    sections = set(page.evaluate(
        "[...document.querySelectorAll('section.ablation[data-ablation]')].map(s => s.dataset.ablation)"))
    assert rows, "#matrix has no claim rows ([data-ablation])"
    assert {r["name"] for r in rows} >= sections, f"claims missing from #matrix: {sections - {r['name'] for r in rows}}"
    with screenshot_on_failure(page, tmp_path):
        for r in rows:
            assert r["badge"], f"{r['name']}: no verdict badge in its #matrix row"
            assert r["shown"] and r["width"] > 0 and r["height"] > 0, r
            assert 0 <= r["left"] and r["right"] <= r["inner"] + 1 and not r["clipped"], \
                f"{r['name']}: its verdict badge is out of view at {page.width_name} width: {r}"


NUMERIC_COLUMNS = """() => {
    // [table index, column index, heading, is a statistics table, rows, already in order] of columns whose cells
    // all carry data-sort with at least two different finite numbers
    const out = [];
    document.querySelectorAll('table.sortable').forEach((t, ti) => {
        const body = t.tBodies[0], head = t.tHead && t.tHead.rows[t.tHead.rows.length - 1];
        if (!body || !head) return;
        [...head.cells].forEach((th, ci) => {
            const cells = [...body.rows].map(r => r.cells[ci]);
            if (!cells.length || cells.some(c => !c || !c.hasAttribute('data-sort'))) return;
            const nums = cells.map(c => parseFloat(c.dataset.sort)).filter(Number.isFinite);
            const sorted = nums.every((x, i) => i === 0 || nums[i - 1] <= x);
            if (new Set(nums).size >= 2) out.push([ti, ci, th.textContent.trim(), t.classList.contains('stats'),
                                                   body.rows.length, sorted]);
        });
    });
    return out;
}"""


def _column(page, table: int, col: int) -> list[float]:
    return page.evaluate("""([ti, ci]) => [...document.querySelectorAll('table.sortable')[ti].tBodies[0].rows]
        .map(r => r.cells[ci].dataset.sort)""", [table, col])


def test_sorting_orders_rows_by_number(page):
    candidates = page.evaluate(NUMERIC_COLUMNS)
    assert candidates, "no sortable table has a column whose cells carry numeric data-sort values"
    # a p column of a statistics table if there is one, not in order already, with the most rows
    table, col, heading, _, n, _ = max(candidates, key=lambda c: (c[2].split()[:1] == ["p"], c[3], not c[5], c[4]))
    th = page.locator("table.sortable").nth(table).locator("thead tr").last.locator("th").nth(col)

    def numbers():
        return [float(v) for v in _column(page, table, col) if _finite(v)]

    before = numbers()
    th.click()
    assert numbers() == sorted(before), f"column {heading!r} after one click: {numbers()}"
    th.click()
    assert numbers() == sorted(before, reverse=True), f"column {heading!r} after two clicks: {numbers()}"
    assert len(_column(page, table, col)) == n  # no row lost


def _finite(v: str | None) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except ValueError:
        return False
