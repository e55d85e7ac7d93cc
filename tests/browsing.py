"""What the browser tests check of every page they load."""

from __future__ import annotations

import json
from pathlib import Path


def assert_quiet_self_contained_page(browser, page: Path) -> None:
    """No script error or CSP violation was logged, and the page fetched nothing but itself (``data:`` URIs are
    part of the page)."""
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # a CSP violation or a script error would be logged here
    requests = [json.loads(e["message"])["message"]["params"] for e in browser.get_log("performance")
                if '"Network.requestWillBeSent"' in e["message"]]
    from_page = [r["request"]["url"] for r in requests if r.get("documentURL") == page.as_uri()]
    assert page.as_uri() in from_page  # the log does see the page's own load
    fetched = [u[:60] for u in from_page if u != page.as_uri() and not u.startswith("data:")]
    assert fetched == []  # and nothing else: no script, font, image or track fetched
