"""The staff screens hold together at a phone width (390 px) and at a desktop width (1280 px), as
therapist, manager and clinic admin: the page is never wider than the screen, the page starts
the same distance below the header bar everywhere, every button and disclosure is a 44 px
target, a table stacked on the phone keeps its column headings beside the values, and no column
heading is broken inside a word."""

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import DESKTOP

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
PAGES = {
    "therapist@linde.example": [
        "/staff/worklist/",
        "/staff/caseload/",
        "/staff/patients/",
        "petra",
        "petra:messages/",
        "petra:tailor",
        "petra:sessions/new/",
        "/staff/templates/",
        "/staff/programs/",
        "/staff/intake-requests/",
        "/staff/referrals/",
        "/settings/",
        "/settings/sign-ins/",
        "/accounts/2fa/",
    ],
    "manager@linde.example": ["/staff/dashboard/", "/staff/clinic/", "/staff/team/"],
    "admin@linde.example": [
        "/staff/audit/?action=view",
        "/staff/clinic/look/",
        "/staff/team/invite/",
        "/staff/programs/master-your-pain/en/",
        "/staff/programs/recordings/",
    ],
}

# Where the page starts: the top of the first thing in <main> that shows (text, a control, an
# image, a box with a border or a background), below the bottom of the header bar.
MEASURE = r"""
() => {
  const header = document.querySelector('.site-header').getBoundingClientRect().bottom;
  const main = document.querySelector('main');
  let top = Infinity;
  for (const el of main.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    const text = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const control = /^(INPUT|SELECT|TEXTAREA|BUTTON|IMG|svg|CANVAS|VIDEO|AUDIO)$/.test(el.tagName);
    const boxed = parseFloat(style.borderTopWidth) > 0 || style.backgroundColor !== 'rgba(0, 0, 0, 0)';
    if (text || control || boxed) top = Math.min(top, box.top);
  }
  const small = [];
  const targets = 'header button, header a, main button, main a.button, main summary, main select';
  for (const el of document.querySelectorAll(targets)) {
    const box = el.getBoundingClientRect();
    if (box.width && box.height && box.height < 43.5)
      small.push(`${el.tagName} "${el.textContent.trim().slice(0, 40)}" ${Math.round(box.height)}px`);
  }
  const unlabelled = [];
  if (window.innerWidth < 640) {
    for (const table of main.querySelectorAll('table.table')) {
      const shown = (cell) => {
        const copy = cell.cloneNode(true);
        copy.querySelectorAll('.visually-hidden').forEach(hidden => hidden.remove());
        return copy.textContent.trim();
      };
      const heads = table.tHead ? [...table.tHead.rows[0].cells].map(shown) : [];
      for (const row of table.tBodies[0] ? table.tBodies[0].rows : []) {
        [...row.cells].forEach((cell, i) => {
          if (i > 0 && cell.tagName === 'TD' && heads[i] && cell.colSpan === 1 && cell.textContent.trim()
              && !getComputedStyle(cell, '::before').content.includes(heads[i].slice(0, 5)))
            unlabelled.push(`${heads[i]}: ${cell.textContent.trim().slice(0, 30)}`);
        });
      }
    }
  }
  const broken = [];
  for (const th of main.querySelectorAll('table thead th')) {
    if (th.getBoundingClientRect().width <= 1) continue;
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/[^\s-]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return {
    gap: Math.round(top - header),
    broken: broken.slice(0, 5),
    wide: document.documentElement.scrollWidth > window.innerWidth + 1,
    small: small.slice(0, 5),
    unlabelled: unlabelled.slice(0, 5),
  };
}
"""


def _urls(page, entries):
    petra = None
    for entry in entries:
        if entry.startswith("petra"):
            if petra is None:
                page.goto("/staff/patients/")
                page.get_by_role("link", name="Petra Smit").first.click()
                page.wait_for_load_state()
                petra = page.url
            rest = entry.partition(":")[2]
            if rest == "tailor":
                page.goto(petra)
                page.get_by_role("link", name="Tailor the program").first.click()
                page.wait_for_load_state()
                yield page.url
            else:
                yield petra + rest
        else:
            yield entry


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_staff_pages_hold_together(signed_in, viewport):
    found = {}
    for email, entries in PAGES.items():
        page = signed_in(email, staff=True, viewport=viewport).page
        for url in _urls(page, entries):
            response = page.goto(url)
            assert response is not None, f"no response for {url}"
            assert response.status == 200, f"{url} answered {response.status}"
            assert urlsplit(page.url).path == urlsplit(url).path, f"{url} went to {page.url}"
            page.wait_for_load_state()
            found[f"{email.split('@')[0]} {url}"] = page.evaluate(MEASURE)

    problems = []
    gaps = {where: got["gap"] for where, got in found.items()}
    expected = 24 if viewport is PHONE else 32  # --space-4 on a phone, --space-5 wider
    for where, got in found.items():
        if got["wide"]:
            problems.append(f"{where}: wider than the screen")
        if abs(got["gap"] - expected) > 4:
            problems.append(f"{where}: starts {got['gap']}px below the header bar, not about {expected}px")
        problems += [f"{where}: small target {small}" for small in got["small"]]
        problems += [f"{where}: a stacked cell without its heading ({cell})" for cell in got["unlabelled"]]
        problems += [f"{where}: the column heading word {word!r} broken in two" for word in got["broken"]]
    seen = sorted(set(gaps.values()))
    assert not problems, f"at {viewport['width']}px (gaps {seen}):\n" + "\n".join(problems)
