"""A real browser (headless Chromium, Selenium) runs ``repgym serve --study`` for two players: the consent page, each
player's sequence of games with the study's settings, the end page; every session recorded and on the leaderboard.

Skips, saying why, where Chromium, chromedriver or Selenium is missing (``.ci/run`` installs them)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import WAIT_S, Served, chromium
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import repgym  # noqa: F401
from repgym.benchmark.store import LeaderboardStore
from repgym.cli.serve import make_app
from repgym.human.recording import read_recording
from repgym.human.study import parse_study

STUDY = parse_study({
    "study": {"name": "browser", "title": "A browser study", "episodes": 2, "order": "random", "seed": 40,
              "consent": "Playing means you agree."},
    "game": [{"env": "Umbrella-v0", "settings": {"delay": 1}},
             {"env": "KeyToDoor-v0", "settings": {"delay": 0, "size": 3}, "episodes": 1}],
})  # fmt: skip


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, object]]:
    served = Served(make_app(tmp_path / "recordings", tmp_path / "lb.sqlite", durable=False, study=STUDY))
    yield served.url, served.app.state.server
    served.stop()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = chromium()
    yield driver
    driver.quit()


def until(browser, condition) -> None:
    WebDriverWait(browser, WAIT_S, ignored_exceptions=(Exception,)).until(condition)


def text(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def play_through(browser, url: str) -> tuple[str, list[str]]:
    """One player, as a person would: open the server, agree, play every round of every game the pages lead to.
    Returns the player's id and the games (env names) in the order played."""
    browser.get(url + "/")
    until(browser, lambda b: re.fullmatch(r"p-[0-9a-f]{10}", text(b, "s-player")))
    player = text(browser, "s-player")
    assert "Playing means you agree." in browser.page_source
    browser.find_element(By.ID, "start").click()
    games = []
    while True:
        until(browser, lambda b: "Thank you!" in b.page_source or text(b, "s-steps") == "step 0")
        if "Thank you!" in browser.page_source:
            return player, games
        env = browser.find_element(By.TAG_NAME, "body").get_attribute("data-env")
        games.append(env)
        assert "set by the study" in browser.page_source and text(browser, "s-player") == player
        body = browser.find_element(By.TAG_NAME, "body")
        while True:  # the rounds of this game
            steps = 0
            while "game over" not in text(browser, "message"):
                key = Keys.ARROW_UP if env.startswith("KeyToDoor") else ("u" if steps == 0 else " ")
                body.send_keys(key)
                steps += 1
                until(browser, lambda b, n=steps: text(b, "s-steps") == f"step {n}")
            until(browser, lambda b: b.find_element(By.ID, "next").is_displayed()
                  or b.find_element(By.ID, "new-game").is_enabled())  # fmt: skip
            if browser.find_element(By.ID, "next").is_displayed():
                browser.find_element(By.ID, "next").click()
                break
            round_ = text(browser, "s-game")
            body.send_keys(Keys.ENTER)
            until(browser, lambda b, r=round_: text(b, "s-game") != r and text(b, "s-steps") == "step 0")


def test_two_players_run_the_study_in_a_browser(browser, served, tmp_path) -> None:
    url, server = served
    players = {}
    for _ in range(2):
        player, games = play_through(browser, url)
        players[player] = games
        browser.execute_script("localStorage.clear()")  # the next person at this browser gets a new id
    assert len(players) == 2
    for player, games in players.items():
        assert games == [STUDY.games[i].env_id.split("/")[1] for i in STUDY.sequence(player)]
    until(browser, lambda _: len(server.results) == 4)
    for result in server.results:
        rec = read_recording(result.path)
        game = STUDY.games[STUDY.game_of(rec.env_id, rec.env_kwargs)]
        assert rec.player in players and result.reason == "quit" and "added" in result.submitted
        assert [ep.end_reason for ep in rec.episodes] == ["terminated"] * game.episodes
        assert [ep.seed for ep in rec.episodes] == [40 + i for i in range(game.episodes)]
    with LeaderboardStore(tmp_path / "lb.sqlite") as store:
        assert sorted({row["agent"] for row in store.rows()}) == sorted(f"human:{p}" for p in players)
