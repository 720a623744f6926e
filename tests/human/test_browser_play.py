"""A real browser (headless Chromium driven by Selenium) plays on ``repgym serve``: five Bubble Breaker groups with
the page's score checked against the server's recording, Umbrella to its end, TwoLinkReach for a few presses.

Skips, saying why, where Chromium, chromedriver or Selenium is missing (``.ci/run`` installs them)."""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
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
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import repgym  # noqa: E402, F401
from repgym.benchmark.store import LeaderboardStore  # noqa: E402
from repgym.cli.serve import make_app  # noqa: E402
from repgym.human.recording import read_recording  # noqa: E402

SEED = 21
WAIT_S = 30  # upper bound for the page to catch up; never the expected duration


class Served:
    """``repgym serve``'s app on a free port, in a thread of this process."""

    def __init__(self, tmp_path: Path) -> None:
        self.app = make_app(tmp_path / "recordings", tmp_path / "lb.sqlite", durable=False, seed=SEED)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", ws_max_size=65536))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()

    @property
    def results(self) -> list:
        return self.app.state.server.results

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_S)


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path: Path, browser) -> Iterator[Served]:
    served = Served(tmp_path)
    WebDriverWait(browser, WAIT_S, ignored_exceptions=(Exception,)).until(
        lambda b: b.get(served.url + "/") or "repgym" in b.title
    )
    yield served
    browser.get("about:blank")  # the page closes its socket: the session ends on the server
    served.stop()


def wait_text(browser, element_id: str, text: str) -> None:
    WebDriverWait(browser, WAIT_S).until(lambda b: b.find_element(By.ID, element_id).text == text)


def wait_for(condition) -> None:
    WebDriverWait(None, WAIT_S).until(lambda _: condition())


def test_five_bubble_breaker_groups_clicked_score_as_recorded(browser, served, tmp_path) -> None:
    browser.get(served.url + "/play/BubbleBreaker-v0?rows=6&cols=6&colours=3")
    wait_text(browser, "s-steps", "step 0")
    twin = gym.make("repgym/BubbleBreaker-v0", rows=6, cols=6, colours=3)  # the server's game, seed for seed
    twin.reset(seed=SEED)
    canvas = browser.find_element(By.ID, "screen")
    cell = canvas.size["width"] // 6
    for n in range(1, 6):
        target = int(twin.unwrapped.action_masks().argmax())
        twin.step(target)
        row, col = divmod(target, 6)
        x, y = (col + 0.5) * cell - canvas.size["width"] / 2, (row + 0.5) * cell - canvas.size["height"] / 2
        ActionChains(browser).move_to_element_with_offset(canvas, int(x), int(y)).click().perform()
        wait_text(browser, "s-steps", f"step {n}")
    score = float(browser.find_element(By.ID, "s-score").text.split()[1])
    [path] = (tmp_path / "recordings").glob("*BubbleBreaker*.jsonl")
    steps = read_recording(path).episodes[0].steps  # written as played: readable while the game goes on
    assert len(steps) == 5 and score == sum(s.reward for s in steps) == twin.unwrapped.game.score[0] > 0


def test_umbrella_played_by_keys_to_the_leaderboard(browser, served, tmp_path) -> None:
    browser.get(served.url + "/play/Umbrella-v0?delay=2")
    wait_text(browser, "s-steps", "step 0")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(" ")  # waiting before choosing is refused, not taken as "leave the umbrella"
    WebDriverWait(browser, WAIT_S).until(lambda b: "choose first" in b.find_element(By.ID, "message").text)
    for n, key in enumerate(("u", " ", " "), start=1):
        body.send_keys(key)
        wait_text(browser, "s-steps", f"step {n}")
    assert "game over" in browser.find_element(By.ID, "message").text
    body.send_keys(Keys.ENTER)  # the next game
    wait_text(browser, "s-game", "game 2")
    browser.get("about:blank")
    wait_for(lambda: served.results)
    [result] = served.results
    rec = read_recording(result.path)
    assert [s.action for s in rec.episodes[0].steps] == [1, 0, 0]
    assert [ep.end_reason for ep in rec.episodes] == ["terminated", "disconnect"]  # the page left game 2 unplayed
    with LeaderboardStore(tmp_path / "lb.sqlite") as store:
        [row] = store.rows()
    assert row["agent"] == f"human:{rec.player}" and rec.player.startswith("guest-")


def test_two_link_reach_stepped_by_named_keys(browser, served) -> None:
    browser.get(served.url + "/play/TwoLinkReach-v0")
    wait_text(browser, "s-steps", "step 0")
    assert "shoulder torque + (counter-clockwise)" in browser.find_element(By.ID, "buttons").text
    body = browser.find_element(By.TAG_NAME, "body")
    for n, key in enumerate(("q", "q", "w"), start=1):
        body.send_keys(key)
        wait_text(browser, "s-steps", f"step {5 * n}")
    browser.find_element(By.ID, "new-game").click()
    wait_text(browser, "s-game", "game 2")
    assert browser.find_element(By.ID, "frame").get_attribute("src").startswith("data:image/png;base64,")
