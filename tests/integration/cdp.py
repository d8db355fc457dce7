"""cdp.py - drives a headless chromium through its DevTools protocol, with
the standard library only (a minimal WebSocket client: RFC 6455 text frames,
client-masked, no extensions), for the dashboard test of test_serve.sh.

    cdp.py CHROMIUM URL SCRIPT.json

Starts CHROMIUM --headless with a debugging port of its own, opens URL and
runs the steps of SCRIPT.json in order, printing one line per step:

    {"wait": JS, "for": SECS}   poll JS (an expression) every 50 ms until it
                                is truthy; prints "wait ok MS" (ms waited)
    {"eval": JS}                evaluate, print "eval VALUE"
    {"shell": CMD}              run CMD with sh (e.g. `faultline trip`),
                                print "shell RC"; the clock of the next
                                wait starts when it returned
    {"screenshot": PATH}        PNG of the page
Every console message of level error, uncaught exception and log entry of
level error seen from the start is printed as "console-error TEXT"; the
exit status is 0 if every step succeeded, 1 otherwise.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


class WebSocket:
    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key))
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise OSError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise OSError("websocket handshake refused: %r" % head[:200])

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise OSError("websocket closed")
            buf += chunk
        return buf

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            payload = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise OSError("websocket closed by chromium")
            if opcode in (0x9, 0xA):
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()


class Page:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.errors = []

    def _note(self, msg):
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            self.errors.append("%s %s" % (e.get("text", ""), e.get("url", "")))

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self._note(msg)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            return None
        return r.get("result", {}).get("value")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    chromium, url, script = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
    profile = tempfile.mkdtemp(prefix="fl-chromium-")
    port = free_port()
    proc = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-extensions", "--disable-background-networking", "--disable-sync",
                             "--user-data-dir=" + profile, "--remote-debugging-port=%d" % port,
                             "--window-size=1400,900", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = True
    try:
        target = None
        deadline = time.time() + 60
        while time.time() < deadline and target is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                    target = pages[0]["webSocketDebuggerUrl"] if pages else None
            except OSError:
                time.sleep(0.2)
        if target is None:
            print("chromium did not open its debugging port")
            return 1
        page = Page(WebSocket(target))
        for domain in ("Runtime", "Log", "Page"):
            page.call(domain + ".enable")
        page.call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
        page.call("Page.navigate", url=url)
        started = time.time()
        for step in script:
            if "wait" in step:
                limit = started + step.get("for", 10)
                value = None
                while True:
                    value = page.eval(step["wait"])
                    if value or time.time() > limit:
                        break
                    time.sleep(0.05)
                if value:
                    print("wait ok %d" % ((time.time() - started) * 1000))
                else:
                    print("wait FAILED after %.1fs: %s" % (time.time() - started, step["wait"]))
                    ok = False
                    break
            elif "eval" in step:
                print("eval %s" % json.dumps(page.eval(step["eval"])))
            elif "shell" in step:
                rc = subprocess.call(step["shell"], shell=True)
                print("shell %d" % rc)
                ok = ok and rc == 0
            elif "screenshot" in step:
                png = page.call("Page.captureScreenshot", format="png")["data"]
                with open(step["screenshot"], "wb") as f:
                    f.write(base64.b64decode(png))
                print("screenshot %s" % step["screenshot"])
            started = time.time()
        page.eval("1")  # collect what arrived meanwhile
        for e in page.errors:
            print("console-error %s" % e)
            ok = False
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
