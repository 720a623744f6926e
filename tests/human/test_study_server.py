"""``repgym serve --study`` through Starlette's test client: two players each walk through their sequence of games,
the server records and submits every session, and ``repgym study export`` turns the recordings into tables and
figures whose numbers match the recordings."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import warnings
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

import repgym  # noqa: E402, F401
from repgym.benchmark.store import LeaderboardStore  # noqa: E402
from repgym.cli import main  # noqa: E402
from repgym.cli.serve import make_app  # noqa: E402
from repgym.human.recording import read_recording  # noqa: E402
from repgym.human.study import load_study  # noqa: E402

SEED = 500
STUDY = """\
[study]
name = "tiny"
title = "A tiny study"
episodes = 2
order = "random"
seed = 500
consent = "You agree to <play> & be recorded."

[[game]]
env = "KeyToDoor-v0"
settings = { delay = 0, size = 3 }

[[game]]
env = "KeyToDoor-v0"
settings = { delay = 2, size = 3 }
episodes = 1

[[game]]
env = "Umbrella-v0"
settings = { delay = 1 }
"""


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(STUDY)
    return path


@contextlib.contextmanager
def serving(tmp_path: Path, study_file: Path):
    app = make_app(tmp_path / "recordings", tmp_path / "lb.sqlite", durable=False, study=study_file)
    with TestClient(app) as client:
        yield client, app.state.server


def two_players(study) -> tuple[str, str]:
    """Two player ids whose random orders differ."""
    first = "p-00000000a1"
    second = next(f"p-{i:010x}" for i in range(1, 99) if study.sequence(f"p-{i:010x}") != study.sequence(first))
    return first, second


def socket_of(page: str) -> str:
    return re.search(r"data-socket='([^']*)'", page).group(1).replace("&amp;", "&")


def play_round(ws, state: dict, env_id: str, settings: dict, seed: int, skilled: bool) -> dict:
    """One episode: a skilled player follows the KeyToDoor oracle (a twin env with the server's seed) or takes the
    umbrella; the other walks up, or leaves the umbrella. Returns the last state frame."""
    twin = gym.make(env_id, **settings).unwrapped
    twin.reset(seed=seed)
    keys = {0: "ArrowUp", 1: "ArrowRight", 2: "ArrowDown", 3: "ArrowLeft"}
    while not state["over"]:
        if "Umbrella" in env_id:
            key = ("u" if skilled else "n") if state["steps"] == 0 else " "
        else:
            action = twin.optimal_action() if skilled else 0
            if skilled:
                twin.step(action)
            key = keys[action]
        ws.send_json({"type": "key", "key": key})
        state = ws.receive_json()
        assert state["type"] == "state", state
    return state


def play_study(client, study, player: str, skilled: bool) -> list[str]:
    """Walk ``player`` through the study, as its pages lead; returns the game labels in the order played."""
    played = []
    while True:
        page = client.get(f"/study/play?player={player}").text
        if "Thank you!" in page:
            return played
        assert "set by the study" in page and "id='player'" not in page  # settings and name are not the player's
        with client.websocket_connect(socket_of(page)) as ws:
            hello = ws.receive_json()
            where = hello["study"]
            played.append(where["game"])
            assert where["position"] == len(played) and where["count"] == 3
            state = ws.receive_json()
            for round_ in range(where["episodes"] - where["played"]):
                if round_:
                    ws.send_json({"type": "reset"})
                    state = ws.receive_json()
                seed = SEED + where["played"] + round_
                state = play_round(ws, state, hello["env_id"], hello["settings"], seed, skilled)
            assert state["games_left"] == 0
            with pytest.raises(Exception):  # noqa: B017  (the server ends the session once its rounds are played)
                ws.receive_json()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_two_players_walk_through_the_study_and_the_export_matches_the_recordings(tmp_path, study_file) -> None:
    study = load_study(study_file)
    alice, bob = two_players(study)
    with serving(tmp_path, study_file) as (client, server):
        assert client.get("/", follow_redirects=False).headers["location"] == "/study"
        intro = client.get("/study").text
        assert "You agree to &lt;play&gt; &amp; be recorded." in intro and "I agree — start" in intro
        assert client.get("/play/KeyToDoor-v0").status_code == 404  # a study server serves the study only
        orders = {p: play_study(client, study, p, skilled=p == alice) for p in (alice, bob)}
        end = client.get(f"/study/play?player={alice}").text
        assert "Thank you!" in end and "<td>KeyToDoor-v0 delay=0 size=3</td><td>2</td><td>2</td>" in end
        results = list(server.results)
    for player, order in orders.items():
        assert order == [study.games[i].label for i in study.sequence(player)]
    assert orders[alice] != orders[bob]
    assert len(results) == 6 and all(r.reason == "quit" and "added" in r.submitted for r in results)
    with LeaderboardStore(tmp_path / "lb.sqlite") as store:
        agents = sorted(row["agent"] for row in store.rows())
    assert agents == sorted([f"human:{alice}"] * 3 + [f"human:{bob}"] * 3)

    out = tmp_path / "out"
    assert main(["study", "export", "--study", str(study_file), "--recordings", str(tmp_path / "recordings"),
                 "--out", str(out)]) == 0  # fmt: skip
    rows = read_csv(out / "episodes.csv")
    assert len(rows) == 2 * study.episodes == 10 and {r["study"] for r in rows} == {"tiny"}
    for result in results:  # every recorded episode is a row with the recording's numbers
        rec = read_recording(result.path)
        mine = [r for r in rows if r["session"] == result.path.name]
        assert [(float(r["return"]), int(r["length"]), r["success"], r["end_reason"]) for r in mine] == [
            (ep.total_reward, len(ep.steps), str(ep.success).lower(), ep.end_reason) for ep in rec.episodes
        ]
        assert {json.loads(r["settings"]) == rec.env_kwargs for r in mine} == {True}
    door = [r for r in rows if r["game"] == "KeyToDoor-v0 delay=0 size=3"]
    assert sorted((r["player"], r["episode"], r["success"]) for r in door) == sorted([
        (alice, "0", "true"), (alice, "1", "true"), (bob, "0", "false"), (bob, "1", "false")])  # fmt: skip
    curves = {(r["game"], r["episode"]): r for r in read_csv(out / "curves.csv")}
    assert curves[("KeyToDoor-v0 delay=0 size=3", "1")]["success_rate"] == "0.5"
    assert curves[("KeyToDoor-v0 delay=0 size=3", "1")]["players"] == "2"
    firsts = {(r["game"], r["player"]): r["episodes_to_first_success"] for r in read_csv(out / "first_success.csv")}
    assert firsts[("KeyToDoor-v0 delay=2 size=3", alice)] == "0" and firsts[("KeyToDoor-v0 delay=2 size=3", bob)] == ""
    jsonl = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(jsonl) == 10 and jsonl[0]["settings"] == {"delay": 0, "size": 3}
    for game in study.games:
        png = out / f"curve-{game.slug}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert (out / "curves.png").stat().st_size > 5000


def test_a_dropped_player_resumes_where_they_stopped_even_after_a_restart(tmp_path, study_file) -> None:
    study = load_study(study_file)
    player = "p-00000000a1"
    first = study.games[study.sequence(player)[0]]
    with serving(tmp_path, study_file) as (client, server):
        page = client.get(f"/study/play?player={player}").text
        assert "data-played='0'" in page and "game 1 of 3" in page
        with client.websocket_connect(socket_of(page)) as ws:
            hello = ws.receive_json()
            state = play_round(ws, ws.receive_json(), hello["env_id"], hello["settings"], SEED, True)
            ws.send_json({"type": "reset"})
            state = ws.receive_json()
            ws.send_json({"type": "key", "key": "ArrowUp" if "Key" in first.env_id else "u"})
            state = ws.receive_json()
            assert not state["over"]
            ws.send_json({"type": "reset"})  # no restart in the middle of a study's round
            assert ws.receive_json()["code"] == "not_now"
            with client.websocket_connect(socket_of(page)) as twin:  # a second tab of the same player
                assert twin.receive_json()["code"] == "already_playing"
        # the socket dropped mid-round: recorded as a disconnect, the round is owed
        [result] = server.results
        assert [ep.end_reason for ep in read_recording(result.path).episodes] == ["terminated", "disconnect"]
        with client.websocket_connect(socket_of(page).replace("game=", "game=9")) as stale:
            assert stale.receive_json()["code"] == "reload"
        with client.websocket_connect("/study/ws?player=alice&game=0") as named:
            assert named.receive_json()["code"] == "bad_request"  # study players are anonymous ids only
    with serving(tmp_path, study_file) as (client, server):  # a restarted server reads the progress back
        page = client.get(f"/study/play?player={player}").text
        assert "data-played='1'" in page and "game 1 of 3" in page
        with client.websocket_connect(socket_of(page)) as ws:
            hello = ws.receive_json()
            assert hello["study"]["played"] == 1
            play_round(ws, ws.receive_json(), hello["env_id"], hello["settings"], SEED + 1, True)
        [result] = server.results
        assert read_recording(result.path).header["seed"] == SEED + 1  # the owed round, on its own seed
        assert "game 2 of 3" in client.get(f"/study/play?player={player}").text
    out = tmp_path / "out"
    assert main(["study", "export", "--recordings", str(tmp_path / "recordings"), "--out", str(out)]) == 0
    rows = [r for r in read_csv(out / "episodes.csv") if r["player"] == player]
    assert [(r["episode"], r["end_reason"]) for r in rows] == [("0", "terminated"), ("", "disconnect"),
                                                                ("1", "terminated")]  # fmt: skip
