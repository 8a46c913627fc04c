#!/usr/bin/env python3
"""Drive headless Chromium through the DevTools protocol for pages.sh: one session, steps
in order, one line of output per step, for the shell to check.

Usage: pages_browser.py DEVTOOLS_PORT [--lang TAGS] [--js] STEP...
  --lang TAGS    the browser's Accept-Language for the whole session ("id,en;q=0.5")
  --js           let the pages run scripts (by default they may not: the pages must work
                 without JavaScript, so every step but "axe" runs with scripts off)
Steps ("|" separates a step's parts):
  nav|URL             open URL; prints status=HTTP-CODE
  type|SELECTOR|TEXT  focus the element and type TEXT as a keyboard would
  fill|SELECTOR|TEXT  the same over what the field holds (selected first)
  wait|SELECTOR|TEXT  wait (15 s at most) until the element's text holds TEXT (or, with no
                      TEXT, until it exists); prints wait|SELECTOR=its text, for a page
                      that draws itself with scripts (the console)
  hash|FRAGMENT       set location.hash (a script's page changes, no load)
  file|SELECTOR|PATH  give a file input the file PATH, as a user choosing it (change fires)
  choose|SELECTOR|VAL set a select to VAL, as a user choosing it (change fires)
  click|SELECTOR      a mouse click at the element's centre (scrolled into view)
  submit|SELECTOR     the same, then wait for the page it leads to; prints status=CODE
  text|SELECTOR       prints text|SELECTOR=its text, blanks collapsed ("" when absent)
  attr|SELECTOR|NAME  prints attr|SELECTOR|NAME=the attribute's value
  eval|EXPRESSION     prints eval=its value (DevTools' own evaluation: not the page's)
  await|EXPRESSION    the same for a promise, awaited; prints await=its value, or
                      await-error=the exception's description when it rejects
  shot|FILE|WIDTH     a PNG of the whole page WIDTH CSS pixels wide; prints shot=FILE WxH
  axe|AXE.JS          run axe-core on the page; prints axe=URL violations=N serious=K and
                      axe-violation=ID IMPACT for each serious or critical one
"""
import base64
import json
import struct
import sys
import time
import urllib.request

import websocket


class Browser:
    def __init__(self, port):
        pages = []
        for _ in range(100):
            try:
                pages = [t for t in json.load(urllib.request.urlopen(
                    "http://127.0.0.1:%s/json/list" % port)) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30)
        self.n = 0
        self.events = []
        self.status = None

    def call(self, method, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.note(m)

    def note(self, m):
        if m.get("method") == "Network.responseReceived" and m["params"]["type"] == "Document":
            self.status = m["params"]["response"]["status"]
        self.events.append(m.get("method"))

    def wait_load(self, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if "Page.loadEventFired" in self.events:
                self.events.clear()
                return True
            self.ws.settimeout(max(0.1, end - time.time()))
            try:
                self.note(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break
        return False

    def js(self, expr, await_promise=False):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=await_promise)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr[:60], r["exceptionDetails"]))
        return r["result"].get("value")

    def centre(self, sel):
        return self.js("(() => { const e = document.querySelector(%s); if (!e) return null;"
                       " e.scrollIntoView({block: 'center'}); const b = e.getBoundingClientRect();"
                       " return [b.x + b.width / 2, b.y + b.height / 2]; })()" % json.dumps(sel))

    def click(self, sel):
        r = self.centre(sel)
        if r is None:
            raise RuntimeError("no element " + sel)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=r[0], y=r[1], button="left",
                      clickCount=1)


def png_size(data):
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def main():
    args = sys.argv[1:]
    port = args.pop(0)
    lang, js = None, False
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--lang":
            lang = args.pop(0)
        elif opt == "--js":
            js = True
    b = Browser(port)
    b.call("Page.enable")
    b.call("Network.enable")
    b.call("Emulation.setScriptExecutionDisabled", value=not js)
    if lang:
        b.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": lang})
    for step in args:
        part = step.split("|")
        what = part[0]
        if what == "nav":
            b.events.clear()
            b.status = None
            b.call("Page.navigate", url=part[1])
            b.wait_load()
            print("status=%s" % b.status)
        elif what == "type":
            b.js("document.querySelector(%s).focus()" % json.dumps(part[1]))
            b.call("Input.insertText", text=part[2])
        elif what == "fill":
            b.js("(() => { const e = document.querySelector(%s); e.focus(); e.select(); })()"
                 % json.dumps(part[1]))
            b.call("Input.insertText", text=part[2])
        elif what == "file":
            # A file input given a file, as a user choosing it would (change fires).
            obj = b.call("Runtime.evaluate", expression="document.querySelector(%s)"
                         % json.dumps(part[1]))["result"]["objectId"]
            b.call("DOM.setFileInputFiles", files=[part[2]], objectId=obj)
        elif what == "choose":
            # A select set to a value, as a user choosing it would (change fires).
            b.js("(() => { const e = document.querySelector(%s); e.focus(); e.value = %s;"
                 " e.dispatchEvent(new Event('change', {bubbles: true})); })()"
                 % (json.dumps(part[1]), json.dumps(part[2])))
        elif what == "wait":
            want = part[2] if len(part) > 2 else ""
            expr = ("(() => { const e = document.querySelector(%s);"
                    " return e ? e.textContent.replace(/\\s+/g, ' ').trim() : null; })()"
                    % json.dumps(part[1]))
            end = time.time() + 15
            v = b.js(expr)
            while (v is None or want not in v) and time.time() < end:
                time.sleep(0.1)
                v = b.js(expr)
            print("wait|%s=%s" % (part[1], v))
        elif what == "hash":
            b.js("location.hash = %s" % json.dumps(part[1]))
        elif what == "click":
            b.click(part[1])
        elif what == "submit":
            b.events.clear()
            b.status = None
            b.click(part[1])
            b.wait_load()
            print("status=%s" % b.status)
        elif what == "text":
            v = b.js("(() => { const e = document.querySelector(%s);"
                     " return e ? e.textContent.replace(/\\s+/g, ' ').trim() : ''; })()"
                     % json.dumps(part[1]))
            print("text|%s=%s" % (part[1], v))
        elif what == "attr":
            v = b.js("(() => { const e = document.querySelector(%s);"
                     " return e ? e.getAttribute(%s) : null; })()"
                     % (json.dumps(part[1]), json.dumps(part[2])))
            print("attr|%s|%s=%s" % (part[1], part[2], v))
        elif what == "eval":
            print("eval=%s" % b.js(part[1]))
        elif what == "await":
            try:
                print("await=%s" % b.js(part[1], await_promise=True))
            except RuntimeError as e:
                print("await-error=%s" % str(e).replace("\n", " ")[:300])
        elif what == "shot":
            width = int(part[2])
            b.call("Emulation.setDeviceMetricsOverride", width=width, height=800,
                   deviceScaleFactor=1, mobile=width < 600)
            height = b.js("Math.ceil(document.documentElement.scrollHeight)")
            b.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                   deviceScaleFactor=1, mobile=width < 600)
            data = base64.b64decode(b.call("Page.captureScreenshot", format="png")["data"])
            with open(part[1], "wb") as f:
                f.write(data)
            b.call("Emulation.clearDeviceMetricsOverride")
            print("shot=%s %dx%d" % (part[1], *png_size(data)))
        elif what == "axe":
            # axe-core is a script and waits on timers: scripts on for it alone (the page
            # has none of its own to run, and it is loaded already).
            b.call("Emulation.setScriptExecutionDisabled", value=False)
            with open(part[1], encoding="utf-8") as f:
                b.js(f.read())
            res = b.js("axe.run(document, {resultTypes: ['violations']})"
                       ".then(r => r.violations.map(v => [v.id, v.impact, v.nodes.length]))",
                       await_promise=True)
            bad = [v for v in res if v[1] in ("serious", "critical")]
            print("axe=%s violations=%d serious=%d" % (b.js("location.href"), len(res), len(bad)))
            for v in res:
                print("axe-violation=%s %s nodes=%d" % tuple(v))
            b.call("Emulation.setScriptExecutionDisabled", value=not js)
        else:
            raise SystemExit("pages_browser.py: unknown step " + what)
        sys.stdout.flush()
    b.ws.close()


main()
