#!/usr/bin/env python3
"""Open every page of the HTML report in headless Chromium and fail on what a reader would hit.

    scripts/check-html.py [REPORTS_DIR] [SCREENSHOT_DIR]

Pages: REPORTS_DIR/index.html and REPORTS_DIR/*/index.html (default: reports/). Each page is
loaded from file:// in Debian's `chromium` (driven over the DevTools protocol on a pipe: Python's
standard library only), and the check fails on
  - an image that did not load (not complete, or zero natural width),
  - a failed resource load (the network log),
  - a console error or an uncaught exception,
  - a local link or source that points to a missing file,
  - a resource (image, script, stylesheet, font) fetched from the network: pages are self-contained.
A PNG screenshot of each page goes to SCREENSHOT_DIR (default: target/html-screenshots/).
Exit 0 when every page is clean, 1 with one line per problem otherwise, 2 when Chromium is missing.
"""
import base64
import html.parser
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse


class Refs(html.parser.HTMLParser):
    """Every href/src of a page, with the tag it sits on."""

    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.refs.append((tag, v))


def local_problems(page: pathlib.Path):
    p = Refs()
    p.feed(page.read_text(encoding="utf-8"))
    out = []
    for tag, ref in p.refs:
        u = urllib.parse.urlparse(ref)
        if u.scheme in ("http", "https") or ref.startswith("//"):
            if tag != "a":
                out.append(f"{page}: <{tag}> loads {ref} from the network (pages must be self-contained)")
            continue
        if u.scheme or ref.startswith("#"):
            continue
        target = (page.parent / urllib.parse.unquote(u.path)).resolve()
        if not target.exists():
            out.append(f"{page}: broken link <{tag}> {ref}")
    return out


class Chromium:
    """Headless Chromium over --remote-debugging-pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, exe):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
        self.profile = tempfile.mkdtemp(prefix="check-html-")

        def fds():
            os.dup2(a, 3)
            os.dup2(b, 4)

        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--hide-scrollbars", "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}", "about:blank",
        ]
        self.proc = subprocess.Popen([exe] + flags, preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in (to_chrome_r, from_chrome_w, a, b):
            os.close(fd)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self.read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium exited")
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def wait_event(self, method, session, timeout=30.0):
        deadline = time.time() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self.read(deadline))

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def browser_problems(chrome, page: pathlib.Path, shots: pathlib.Path, name: str):
    target = chrome.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    sid = chrome.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        chrome.send(f"{domain}.enable", session=sid)
    chrome.send("Emulation.setDeviceMetricsOverride",
                {"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, session=sid)
    chrome.events.clear()
    chrome.send("Page.navigate", {"url": page.resolve().as_uri()}, session=sid)
    chrome.wait_event("Page.loadEventFired", sid)
    broken = chrome.send("Runtime.evaluate", {
        "expression": "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))",
        "returnByValue": True}, session=sid)["result"].get("value", [])
    shot = chrome.send("Page.captureScreenshot", {"format": "png"}, session=sid)
    (shots / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))
    out = [f"{page}: image did not load: {src}" for src in broken]
    for e in chrome.events:
        if e.get("sessionId") != sid:
            continue
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"{page}: console error: {args}")
        elif m == "Runtime.exceptionThrown":
            out.append(f"{page}: exception: {p.get('exceptionDetails', {}).get('text', '')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"{page}: console: {p['entry'].get('text', '')} {p['entry'].get('url', '')}".rstrip())
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"{page}: failed to load a resource: {p.get('errorText', '')}")
    chrome.events.clear()
    chrome.send("Target.closeTarget", {"targetId": target})
    return out


def main():
    reports = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "reports")
    shots = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else "target/html-screenshots")
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not exe:
        print("check-html: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    pages = [reports / "index.html"] + sorted(reports.glob("*/index.html"))
    missing = [p for p in pages if not p.is_file()]
    if missing:
        print(f"check-html: missing pages: {', '.join(map(str, missing))} (run `cargo repro index`)", file=sys.stderr)
        return 1
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    chrome = Chromium(exe)
    try:
        for page in pages:
            problems += local_problems(page)
            problems += browser_problems(chrome, page, shots, "index" if page.parent == reports else page.parent.name)
    finally:
        chrome.close()
    for p in problems:
        print(p)
    print(f"check-html: {len(pages)} pages, {len(problems)} problems; screenshots in {shots}/", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
