"""Render a soclab HTML report to a PNG with headless Chromium (the picture in docs/).

    python scripts/render_report.py                       # the quickstart's report -> docs/
    python scripts/render_report.py REPORT.html OUT.png --height 2400

Run `make quickstart` (or `soclab sweep experiments/quickstart.yaml`) first; `make docs-report`
does both. Needs Debian's `chromium` (or Chrome) on PATH.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from soclab.browser import find_chromium, inspect_page, screenshot

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPORT = ROOT / "soclab-runs" / "quickstart" / "report" / "report.html"
DEFAULT_PNG = ROOT / "docs" / "quickstart_report.png"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", nargs="?", type=Path, default=DEFAULT_REPORT)
    ap.add_argument("png", nargs="?", type=Path, default=DEFAULT_PNG)
    ap.add_argument("--width", type=int, default=1200, help="browser width in px")
    ap.add_argument("--height", type=int, default=None, help="crop at this height (default: whole page)")
    args = ap.parse_args(argv)
    if find_chromium() is None:
        print("error: chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    if not args.report.is_file():
        print(f"error: {args.report}: no report; run `soclab sweep experiments/quickstart.yaml` "
              "first", file=sys.stderr)
        return 2
    page = inspect_page(args.report, args.width)
    broken = [alt for alt, w, h in page["images"] if not (w and h)]
    if broken:
        print(f"error: figures that did not render: {', '.join(broken)}", file=sys.stderr)
        return 1
    out = screenshot(args.report, args.png, args.width, args.height)
    from PIL import Image  # matplotlib's dependency: a 256-colour PNG is a third of the size

    with Image.open(out) as im:
        im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    print(f"{out} ({args.width} px wide, {len(page['images'])} figures, page {page['height']} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
