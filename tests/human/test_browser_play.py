"""A real browser (headless Chromium driven by Selenium) plays on ``repgym serve``: five Bubble Breaker groups with
the page's score checked against the server's recording, Umbrella to its end, TwoLinkReach for a few presses.

Skips, saying why, where Chromium, chromedriver or Selenium is missing (``.ci/run`` installs them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import pytest
from browser_helpers import WAIT_S, Served, chromium
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import repgym  # noqa: F401
from repgym.benchmark.store import LeaderboardStore
from repgym.cli.serve import make_app
from repgym.human.recording import read_recording

SEED = 21


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture
def served(tmp_path: Path, browser) -> Iterator[Served]:
    served = Served(make_app(tmp_path / "recordings", tmp_path / "lb.sqlite", durable=False, seed=SEED))
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
    wait_for(lambda: served.app.state.server.results)
    [result] = served.app.state.server.results
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
