"""Check a report page in a real browser: headless Chromium (the Debian `chromium` package)
lays the page out at a laptop's width and reports what a person would see.

`layout(page)` copies the page with a small measuring script appended, lets Chromium run it
(`--dump-dom`), and reads the result back: the page's scroll width, the widest element that is
not inside a box that scrolls on its own, the overview grids and the provenance header.
`screenshot(page, png)` saves what the window shows.

    python -m kick.report.browser runs/demo/report/report.html [--width 1280] [--screenshot out.png]

exits 1 when an element is wider than the window or the page lacks its overview or header
(`make report-check`). Chromium is found on PATH or in $CHROMIUM."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-dev-shm-usage", "--run-all-compositor-stages-before-draw")  # fmt: skip
MEASURE = """<script>(function(){
var vw=document.documentElement.clientWidth, widest=null, w=0;
function scrolls(el){for(var p=el.parentElement;p;p=p.parentElement){var o=getComputedStyle(p).overflowX;
if(o==='auto'||o==='scroll'||o==='hidden')return p;}return null;}
var all=document.body.querySelectorAll('*');
for(var i=0;i<all.length;i++){var el=all[i];var r=el.getBoundingClientRect();var box=scrolls(el);
var right=box?Math.min(r.right,box.getBoundingClientRect().right):r.right;var width=right-Math.max(r.left,0);
if(right>w){w=right;widest=el.tagName.toLowerCase()+(el.className?'.'+el.className:'')+' '+Math.round(width)+'px';}}
var out={viewport:vw,page_width:document.documentElement.scrollWidth,widest_right:Math.round(w),widest:widest,
overview_grids:document.querySelectorAll('table.overview').length,
provenance:document.querySelectorAll('#provenance').length,
images:document.images.length,images_fit:Array.prototype.every.call(document.images,function(im){
return im.getBoundingClientRect().right<=vw+0.5;}),
scroll_boxes:document.querySelectorAll('.scroll').length};
var pre=document.createElement('pre');pre.id='kick-layout';pre.textContent=JSON.stringify(out);
document.body.appendChild(pre);})();</script>"""


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or Path(env).exists() else None
    return next((p for p in map(shutil.which, NAMES) if p), None)


def _run(args: list[str], timeout: float = 120) -> str:
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install chromium) and $CHROMIUM unset")
    with tempfile.TemporaryDirectory() as profile:
        res = subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"chromium exited {res.returncode}: {res.stderr.strip()[-500:]}")
    return res.stdout


def layout(page: Path, width: int = 1280, height: int = 900) -> dict[str, Any]:
    """What Chromium measured on `page` laid out in a `width` px window."""
    text = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as d:
        probe = Path(d) / "probe.html"
        probe.write_text(
            text.replace("</body>", MEASURE + "</body>") if "</body>" in text else text + MEASURE
        )
        dom = _run([f"--window-size={width},{height}", "--dump-dom", probe.resolve().as_uri()])
    m = re.search(r"<pre id=\"kick-layout\">(.*?)</pre>", dom, re.S)
    if m is None:
        raise RuntimeError("chromium gave no layout (the measuring script did not run)")
    return json.loads(
        m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    )


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 2400) -> Path:
    _run([f"--window-size={width},{height}", f"--screenshot={png.resolve()}", page.resolve().as_uri()])
    return png


def problems(found: dict[str, Any]) -> list[str]:
    out = []
    if found["page_width"] > found["viewport"] or found["widest_right"] > found["viewport"]:
        out.append(f"wider than the window ({found['viewport']} px): page {found['page_width']} px, "
                   f"widest element {found['widest']} reaching {found['widest_right']} px")  # fmt: skip
    if found["overview_grids"] != 1:
        out.append(f"{found['overview_grids']} overview grids (expected one)")
    if found["provenance"] != 1:
        out.append("no provenance header")
    if not found["images_fit"]:
        out.append("an image is wider than the window")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Check a kick report in headless Chromium.")
    ap.add_argument("page", type=Path)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--screenshot", type=Path)
    a = ap.parse_args(argv)
    if find_chromium() is None:
        print("error: no chromium found (apt-get install chromium, or set CHROMIUM)", file=sys.stderr)
        return 2
    found = layout(a.page, a.width)
    print(json.dumps(found))
    if a.screenshot:
        print(f"screenshot: {screenshot(a.page, a.screenshot, a.width)}")
    bad = problems(found)
    for p in bad:
        print(f"report-check: {p}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
