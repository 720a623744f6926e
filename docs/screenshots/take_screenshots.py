"""Regenerate the screenshots in this folder: ``repgym serve`` on a free port, headless Chromium (Selenium), a few
moves on each page, then a 1280x900 PNG of it.

    python docs/screenshots/take_screenshots.py            # needs chromium, chromium-driver and repgym[web,dev]

Recordings and the leaderboard go to a temporary folder; one Umbrella game is played to its end so that the
leaderboard page has a human row.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import gymnasium as gym
import uvicorn
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import repgym  # noqa: F401  (registers the envs)
from repgym.cli.serve import make_app

HERE = Path(__file__).parent
SEED = 3
# name, path, moves: ("key", k) | ("click",) | ("hover",): a click on, or the mouse over, the board's first group
PAGES = [
    ("home", "/", []),
    ("bubble-breaker", "/play/BubbleBreaker-v0", [("click",), ("click",), ("hover",)]),
    ("key-to-door", "/play/KeyToDoor-v0?delay=5", [("key", "ArrowUp"), ("key", "ArrowLeft"), ("key", "ArrowUp")]),
    ("umbrella", "/play/Umbrella-v0?delay=5", [("key", "u"), ("key", " "), ("key", " ")]),
    ("two-link-reach", "/play/TwoLinkReach-v0", [("key", "q")] * 3 + [("key", "w")] * 2),
    ("thrower", "/play/Thrower-v0", [("key", "q")] * 4 + [("key", "w")] * 2),
    ("", "/play/Umbrella-v0?delay=2", [("key", "n"), ("key", " "), ("key", " ")]),  # a finished game, no picture
    ("leaderboard", "/leaderboard", []),
]


def main() -> int:
    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        print("needs chromedriver: apt-get install chromium chromium-driver", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp) / "recordings", Path(tmp) / "lb.sqlite", seed=SEED)
        twin = gym.make("repgym/BubbleBreaker-v0")  # the server's board, seed for seed: where the groups are
        twin.reset(seed=SEED)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        options = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
            options.add_argument(arg)
        browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
        browser.set_window_size(1280, 900)
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        try:
            while not server.started:
                time.sleep(0.1)
            for name, path, moves in PAGES:
                browser.get(url + path)
                if path.startswith("/play/"):
                    steps = browser.find_element(By.ID, "s-steps")
                    WebDriverWait(browser, 30).until(lambda b, s=steps: s.text == "step 0")
                for move in moves:
                    before = browser.find_element(By.ID, "s-steps").text
                    if move[0] == "key":
                        browser.find_element(By.TAG_NAME, "body").send_keys(move[1])
                    else:
                        canvas = browser.find_element(By.ID, "screen")
                        target = int(twin.unwrapped.action_masks().argmax())
                        if move[0] == "click":
                            twin.step(target)
                        row, col = divmod(target, 10)
                        cell = 40  # the default 14x10 board is drawn with 40-pixel cells
                        x = (col + 0.5) * cell - canvas.size["width"] / 2
                        y = (row + 0.5) * cell - canvas.size["height"] / 2
                        chain = ActionChains(browser).move_to_element_with_offset(canvas, int(x), int(y))
                        (chain.click() if move[0] == "click" else chain).perform()
                    if move[0] != "hover":
                        WebDriverWait(browser, 30).until(lambda b, t=before: b.find_element(By.ID, "s-steps").text != t)
                    time.sleep(0.3)  # the frame's image decodes
                if name:
                    browser.save_screenshot(str(HERE / f"{name}.png"))
                    print(f"wrote {HERE / name}.png")
                if not path.startswith("/play/"):
                    continue
                browser.get("about:blank")  # ends the session: the finished game reaches the leaderboard
                time.sleep(1.0)
        finally:
            browser.quit()
            server.should_exit = True
            thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
