"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

No browser-driver library is needed: Chromium reads protocol commands (JSON, each ended by
a NUL byte) from file descriptor 3 and writes replies and events to file descriptor 4.
Started with the flags this machine needs (no network, no first-run work, a fresh profile).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-pipe",
]


def _high(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class Chromium:
    """A headless Chromium process and one page in it."""

    def __init__(self, timeout: float = 60.0):
        exe = executable()
        if exe is None:
            raise RuntimeError("chromium is not installed (Debian package 'chromium')")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="mapopt-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # above fd 9, so that the shell's redirections onto 3 and 4 cannot overwrite either end
        to_browser_r, from_browser_w = (_high(fd) for fd in (to_browser_r, from_browser_w))
        # the browser reads commands on fd 3 and writes replies on fd 4: bash's exec sets them (dash takes no fd > 9)
        cmd = " ".join(shlex.quote(a) for a in [exe, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"])
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", f"exec {cmd} 3<&{to_browser_r} 4>&{from_browser_w}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser_r, from_browser_w),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._id = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its reply (events in between are dropped)."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the protocol pipe")
            self._buffer += chunk
        raise TimeoutError(f"no reply to {method} within {self.timeout} s")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, self.session
        )
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Navigate and wait until the page and its images have loaded."""
        self.call("Page.navigate", {"url": url}, self.session)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            state = self.evaluate(
                "document.readyState === 'complete' && document.URL !== 'about:blank' && "
                "Array.from(document.images).every(i => i.complete)"
            )
            if state:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{url} did not finish loading")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
