#!/usr/bin/env python3
"""Drives one headless Chromium page over the DevTools protocol (Python standard library only).

    browser_page.py URL --until JS [--dom OUT.html] [--shot OUT.png] [--timeout SECS]
                    [--size WIDTH,HEIGHT] [--header "NAME: VALUE"]... [--responses OUT.json]
                    -- CHROMIUM ARGS...

Starts CHROMIUM ARGS with --remote-debugging-pipe, opens URL in a WIDTH x HEIGHT viewport
(default 1280,900), evaluates the JavaScript
expression JS every 100 ms (real time) until it is true, then writes the page's DOM
(document.documentElement.outerHTML) to OUT.html and/or a PNG screenshot of the viewport
to OUT.png, and closes the browser. Exits 1 if JS is not true within SECS (default 30).

Used by browser-check.sh because the page keeps an event stream open: chromium's
--virtual-time-budget never expires while a fetch is pending, and --dump-dom without it
dumps the page at its load event, before it has shown anything.

--header sends an extra request header with every request of the page (e.g. an
Accept-Encoding that Chromium does not send over plain http); --responses writes the URL,
status and headers of every response the page received, as a JSON list.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import time


class Pipe:
    """The DevTools protocol on --remote-debugging-pipe: JSON messages ended by NUL,
    written to the browser's fd 3 and read from its fd 4."""

    def __init__(self, to_browser, from_browser):
        self.to_browser = to_browser
        self.from_browser = from_browser
        self.buffer = b""
        self.next_id = 0
        # Network.responseReceived events seen while waiting for replies.
        self.responses = []

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("method") == "Network.responseReceived":
                response = reply["params"]["response"]
                self.responses.append({"url": response["url"], "status": response["status"],
                                       "headers": response["headers"]})
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--until", required=True)
    parser.add_argument("--dom")
    parser.add_argument("--shot")
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--size", default="1280,900", help="viewport WIDTH,HEIGHT in CSS pixels")
    parser.add_argument("--header", action="append", default=[], help='"NAME: VALUE" sent with every request')
    parser.add_argument("--responses", help="write every response's URL, status and headers here (JSON)")
    argv = sys.argv[1:]
    if "--" not in argv:
        parser.error("the chromium command line follows --")
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]

    # The browser reads commands from its fd 3 and writes replies to its fd 4.
    browser_in, to_browser = os.pipe()
    from_browser, browser_out = os.pipe()
    os.set_inheritable(browser_in, True)
    os.set_inheritable(browser_out, True)

    def child_fds():
        os.dup2(browser_in, 3)
        os.dup2(browser_out, 4)

    browser = subprocess.Popen(command + ["--remote-debugging-pipe", "about:blank"],
                               preexec_fn=child_fds, close_fds=False)
    os.close(browser_in)
    os.close(browser_out)
    pipe = Pipe(to_browser, from_browser)
    try:
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        # The viewport itself, not the window (whose frame takes part of --window-size).
        width, height = (int(n) for n in args.size.split(","))
        pipe.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        if args.header or args.responses:
            pipe.call("Network.enable", {}, session)
        if args.header:
            headers = dict((part.strip() for part in h.split(":", 1)) for h in args.header)
            pipe.call("Network.setExtraHTTPHeaders", {"headers": headers}, session)
        pipe.call("Page.navigate", {"url": args.url}, session)
        deadline = time.monotonic() + args.timeout
        while True:
            result = pipe.call("Runtime.evaluate", {"expression": args.until, "returnByValue": True},
                               session)
            if result.get("result", {}).get("value") is True:
                break
            if time.monotonic() > deadline:
                print(f"browser_page.py: not true within {args.timeout:g}s: {args.until}", file=sys.stderr)
                return 1
            time.sleep(0.1)
        if args.dom:
            html = pipe.call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML",
                                                  "returnByValue": True}, session)["result"]["value"]
            with open(args.dom, "w", encoding="utf-8") as out:
                out.write(html)
        if args.responses:
            with open(args.responses, "w", encoding="utf-8") as out:
                json.dump(pipe.responses, out, indent=1)
        if args.shot:
            png = pipe.call("Page.captureScreenshot", {"format": "png"}, session)["data"]
            with open(args.shot, "wb") as out:
                out.write(base64.b64decode(png))
        try:
            pipe.call("Browser.close")
        except RuntimeError:
            pass  # the browser may close the pipe before it answers
        return 0
    finally:
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()


if __name__ == "__main__":
    sys.exit(main())
