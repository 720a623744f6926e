"""Regenerate the study screenshots in this folder: ``repgym serve --study examples/study.toml`` on a free port,
headless Chromium (Selenium): the consent page, a game of the sequence part-way, the end page; and the learning-curve
figures of ``repgym study export``.

    python docs/screenshots/take_study_screenshots.py      # needs chromium, chromium-driver and repgym[web,dev]

The end page and the figures need finished players: SIMULATED players are recorded first, straight through
:class:`~repgym.human.session.GameSession` (the server's own session model): at each step a player follows the
KeyToDoor oracle with a probability that grows with practice and shrinks with the delay, else moves at random. The
figures therefore show the export's format, not human data.
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
import numpy as np
import uvicorn
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import repgym  # noqa: F401  (registers the envs)
from repgym.cli.serve import make_app
from repgym.human.session import GameSession
from repgym.human.study import load_study
from repgym.human.study.export import export_study

HERE = Path(__file__).parent
STUDY = load_study(HERE.parents[1] / "examples" / "study.toml")
ARROWS = {0: Keys.ARROW_UP, 1: Keys.ARROW_RIGHT, 2: Keys.ARROW_DOWN, 3: Keys.ARROW_LEFT}  # KeyToDoor's actions


def simulate(recordings: Path, players: int) -> list[str]:
    """Record ``players`` simulated players through the whole study; returns their ids."""
    rng = np.random.default_rng(0)
    ids = [f"p-{int(rng.integers(2**40)):010x}" for _ in range(players)]
    for n, player in enumerate(ids):
        skill = 0.75 + 0.2 * n / players
        for index in STUDY.sequence(player):
            game = STUDY.games[index]
            session = GameSession(game.env_id, game.settings, seed=STUDY.seed, player=player,
                                  record_dir=recordings, durable=False)  # fmt: skip
            for episode in range(game.episodes):
                session.reset()
                follow = min(1.0, skill + 0.08 * episode) ** (1 + game.settings["delay"] / 10)
                while not session.over:
                    oracle = session.game.optimal_action()
                    session.act(oracle if rng.random() < follow else int(rng.integers(4)))
            session.close()
    return ids


def main() -> int:
    driver_path = shutil.which("chromedriver")
    if driver_path is None:
        print("needs chromedriver: apt-get install chromium chromium-driver", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        recordings = Path(tmp) / "recordings"
        finished = simulate(recordings, 8)
        result = export_study(recordings, Path(tmp) / "export", STUDY)
        shutil.copy(result.out / "curve-KeyToDoor-v0_delay-5.png", HERE / "study-curve.png")
        shutil.copy(result.out / "curves.png", HERE / "study-curves.png")
        print(f"wrote {HERE / 'study-curve.png'} and {HERE / 'study-curves.png'}")
        app = make_app(recordings, Path(tmp) / "lb.sqlite", study=STUDY, submit=False, durable=False)
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
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
        wait = WebDriverWait(browser, 30)
        try:
            while not server.started:
                time.sleep(0.1)
            browser.get(url + "/")
            wait.until(lambda b: b.find_element(By.ID, "s-player").text.startswith("p-"))
            browser.save_screenshot(str(HERE / "study-consent.png"))
            browser.find_element(By.ID, "start").click()
            wait.until(lambda b: b.find_element(By.ID, "s-steps").text == "step 0")
            # Round 1 by the oracle (a twin of the server's game: the study's seed), then three moves of round 2.
            query = browser.find_element(By.TAG_NAME, "body").get_attribute("data-query")  # e.g. delay=5
            settings = {k: int(v) for k, v in (item.split("=") for item in query.split("&"))}
            twin = gym.make("repgym/KeyToDoor-v0", **settings).unwrapped
            body = browser.find_element(By.TAG_NAME, "body")
            for round_, moves in ((0, None), (1, 3)):
                twin.reset(seed=STUDY.seed + round_)
                steps = 0
                while not twin.done and (moves is None or steps < moves):
                    action = twin.optimal_action()
                    twin.step(action)
                    body.send_keys(ARROWS[action])
                    steps += 1
                    wait.until(lambda b, n=steps: b.find_element(By.ID, "s-steps").text == f"step {n}")
                if moves is None:
                    body.send_keys(Keys.ENTER)  # the next round
                    wait.until(lambda b: b.find_element(By.ID, "s-game").text.startswith("round 2"))
            time.sleep(0.3)  # the frame's image decodes
            browser.save_screenshot(str(HERE / "study-game.png"))
            browser.get(f"{url}/study/play?player={finished[0]}")
            wait.until(lambda b: "Thank you!" in b.page_source)
            browser.save_screenshot(str(HERE / "study-end.png"))
            print(f"wrote {HERE}/study-consent.png, study-game.png, study-end.png")
        finally:
            browser.quit()
            server.should_exit = True
            thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
