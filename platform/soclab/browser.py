"""Rendering an HTML report in headless Chromium: what the page looks like in a real browser.

Used by the report's browser test and by `scripts/render_report.py` (the PNG in docs/). Chromium
runs as a subprocess (`--headless --dump-dom` / `--screenshot`); `inspect_page` adds a small
script to a copy of the page that records, after loading, the page height and each image's
decoded size, so a caller can check that every figure actually rendered.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--disable-dev-shm-usage", "--no-first-run", "--mute-audio")
_PROBE = """<script>window.addEventListener('load', () => {
  const imgs = Array.from(document.images).map(i => [i.alt, i.naturalWidth, i.naturalHeight]);
  const info = {height: document.documentElement.scrollHeight, images: imgs,
                headings: Array.from(document.querySelectorAll('h1,h2,h3')).map(h => h.textContent),
                tables: Array.from(document.querySelectorAll('table')).map(t => t.rows.length)};
  const pre = document.createElement('pre'); pre.id = 'soclab-probe';
  pre.textContent = JSON.stringify(info); document.body.appendChild(pre);
});</script>"""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float) -> str:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium")
    with tempfile.TemporaryDirectory(prefix="soclab-chromium-") as profile:
        res = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args],
                             capture_output=True, text=True, timeout=timeout, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"chromium exited with {res.returncode}: {res.stderr[-2000:]}")
    return res.stdout


def inspect_page(html_path: str | Path, width: int = 1200, timeout: float = 120.0) -> dict[str, Any]:
    """Load the page in Chromium; returns {height, images: [[alt, w, h]...], headings, tables
    (row counts)} as measured by the browser after the load event."""
    html_path = Path(html_path).resolve()
    text = html_path.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="soclab-page-") as tmp:
        probe = Path(tmp) / html_path.name
        probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
        dom = _run(["--virtual-time-budget=5000", f"--window-size={width},1000", "--dump-dom",
                    probe.as_uri()], timeout)
    m = re.search(r'<pre id="soclab-probe">(.*?)</pre>', dom, re.S)
    if not m:
        raise RuntimeError("the page's load handler did not run in chromium")
    import html

    return json.loads(html.unescape(m.group(1)))


def screenshot(html_path: str | Path, png: str | Path, width: int = 1200,
               height: int | None = None, timeout: float = 120.0) -> Path:
    """A PNG of the page at `width` px; the full page height unless `height` is given."""
    html_path = Path(html_path).resolve()
    if height is None:
        height = int(inspect_page(html_path, width, timeout)["height"]) + 20
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--screenshot={png}", f"--window-size={width},{height}", html_path.as_uri()], timeout)
    return png
