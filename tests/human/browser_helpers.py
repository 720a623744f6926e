"""What the real-browser tests share: skipping where no browser is installed, ``repgym serve``'s app on a free port
in a thread, and a headless Chromium driven by Selenium.

Importing this module skips the importing test module, saying why, where Chromium, chromedriver, uvicorn or Selenium
is missing (``.ci/run`` installs them)."""

from __future__ import annotations

import shutil
import socket
import threading
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("selenium", reason="Selenium is not installed (pip install selenium)")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
if BROWSER is None or DRIVER is None:
    pytest.skip("headless Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)  # fmt: skip

import uvicorn  # noqa: E402
from selenium import webdriver  # noqa: E402

WAIT_S = 30  # upper bound for the page to catch up; never the expected duration


class Served:
    """A Starlette app (``repgym serve``'s) on a free port, served by uvicorn in a thread of this process."""

    def __init__(self, app: Any) -> None:
        self.app = app
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=65536))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_S)


def chromium() -> webdriver.Chrome:
    """A headless Chromium at 1280x900 (the caller quits it)."""
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
