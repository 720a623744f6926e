"""``repgym serve`` through Starlette's test client: pages, whole games over the WebSocket, bad input answered with
error frames, dropped clients, many sessions at once; recordings replay and reach the leaderboard."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # newer Starlette prefers httpx2 to httpx for its test client; both work
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import repgym  # noqa: E402, F401
from repgym.benchmark.store import LeaderboardStore  # noqa: E402
from repgym.cli.serve import make_app  # noqa: E402
from repgym.human.guides import playable_envs  # noqa: E402
from repgym.human.recording import read_recording  # noqa: E402
from repgym.human.replay import replay  # noqa: E402

TINY = "rows=3&cols=3&colours=2"


@contextlib.contextmanager
def serving(tmp_path: Path, **config):
    app = make_app(tmp_path / "recordings", tmp_path / "lb.sqlite", durable=False, **config)
    with TestClient(app) as client:
        yield client, app.state.server


def rows(tmp_path: Path) -> list[dict]:
    with LeaderboardStore(tmp_path / "lb.sqlite") as store:
        return store.rows()


def first_group(state: dict) -> int:
    """The first cell of a group (or cell 0 on a board without one: any click ends that game)."""
    return next((i for i, g in enumerate(sum(state["groups"], [])) if g >= 0), 0)


def play_bubble_to_the_end(ws) -> dict:
    """Click the first group until the game is over; returns the last state frame."""
    return play_bubble_to_the_end_from(ws, ws.receive_json())


def play_bubble_to_the_end_from(ws, state: dict) -> dict:
    while not state["over"]:
        ws.send_json({"type": "action", "action": first_group(state)})
        state = ws.receive_json()
        assert state["type"] == "state"
    return state


def test_home_page_lists_every_env_and_the_leaderboard(tmp_path) -> None:
    with serving(tmp_path) as (client, _):
        page = client.get("/")
        assert page.status_code == 200 and "href='/leaderboard'" in page.text
        for env_id in playable_envs():
            assert f"href='/play/{env_id.split('/')[1]}'" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/leaderboard").status_code == 200  # empty, no database yet


def test_game_page_shows_goal_controls_legend_and_checks_its_settings(tmp_path) -> None:
    with serving(tmp_path) as (client, _):
        page = client.get("/play/KeyToDoor-v0?delay=5").text
        assert "Pick up the key" in page and "eat apples for 5 steps" in page
        assert "<kbd>↑</kbd> <kbd>W</kbd></td><td>up" in page and "the door" in page and "data-query='delay=5'" in page
        assert "<script" not in page.replace("<script src='/static/game.js'></script>", "")
        reach = client.get("/play/TwoLinkReach-v0").text
        assert "shoulder torque + (counter-clockwise)" in reach and "green target" in reach
        for url, status, words in (("/play/KeyToDoor-v0?delay=999", 400, "0..200"),
                                   ("/play/KeyToDoor-v0?render_mode=human", 400, "unknown setting"),
                                   ("/play/KeyToDoor-v0?delay=1&delay=2", 400, "more than once"),
                                   ("/play/KeyToDoor-v0?%3Cscript%3E=1", 400, "&lt;script&gt;"),
                                   ("/play/..%2F..%2Fetc", 404, "Not Found"),
                                   ("/play/CartPole-v1", 404, "no repgym env")):  # fmt: skip
            response = client.get(url)
            assert response.status_code == status and words in response.text, url
            assert "<script>" not in response.text


def test_a_whole_bubble_breaker_game_matches_its_recording_and_the_leaderboard(tmp_path) -> None:
    with serving(tmp_path, seed=5) as (client, server):
        with client.websocket_connect(f"/ws/BubbleBreaker-v0?{TINY}&player=alice") as ws:
            hello = ws.receive_json()
            assert hello["type"] == "hello" and hello["guide"]["kind"] == "board" and hello["player"] == "alice"
            final = play_bubble_to_the_end(ws)
            ws.send_json({"type": "quit"})
        [result] = server.results
    rec = read_recording(result.path)
    assert rec.closed and rec.player == "alice" and rec.env_kwargs == {"rows": 3, "cols": 3, "colours": 2}
    assert [ep.end_reason for ep in rec.episodes] == ["terminated"]
    assert replay(rec).returns == [final["score"]] and final["score"] > 0  # seed 5: a board with groups
    [row] = rows(tmp_path)
    assert row["agent"] == "human:alice" and row["mean"] == final["score"] and "added" in result.submitted


def test_key_to_door_played_by_keys(tmp_path) -> None:
    oracle = gym.make("repgym/KeyToDoor-v0", delay=3).unwrapped
    oracle.reset(seed=11)
    with serving(tmp_path, seed=11) as (client, server):
        with client.websocket_connect("/ws/KeyToDoor-v0?delay=3&player=bob") as ws:
            keys = {c["action"]: c["key"] for c in ws.receive_json()["guide"]["controls"] if "Arrow" in c["key"]}
            state = ws.receive_json()
            assert state["delay"] == 3 and state["steps_left"] == 19 and state["image"].startswith("data:image/png")
            while not state["over"]:
                action = oracle.optimal_action()
                oracle.step(action)
                ws.send_json({"type": "key", "key": keys[action]})
                state = ws.receive_json()
            assert state["success"] is True and state["score"] == oracle.episode_return >= 10
            ws.send_json({"type": "key", "key": "ArrowUp"})
            assert ws.receive_json()["code"] == "game_over"
            ws.send_json({"type": "reset"})
            assert ws.receive_json()["game"] == 2
        [result] = server.results
    rec = read_recording(result.path)
    # the page closed with game 2 begun: a disconnect, and only game 1 counts
    assert [ep.end_reason for ep in rec.episodes] == ["terminated", "disconnect"]
    assert rec.episodes[0].success is True and [r["agent"] for r in rows(tmp_path)] == ["human:bob"]


@pytest.mark.parametrize(
    ("send", "code"),
    [
        ("{oops", "bad_json"),
        ("x" * 5000, "too_large"),
        ('{"type":"warp"}', "unknown_type"),
        ('{"type":"action","action":9}', "bad_action"),  # out of range for 3x3 cells
        ('{"type":"action","action":-1}', "bad_action"),
        ('{"type":"action","action":[1,2]}', "bad_action"),
        ('{"type":"action","action":1e300}', "bad_action"),
        ('{"type":"key","key":"ArrowUp"}', "unknown_key"),  # a board game is played by clicks
        ('{"type":"reset","file":"../x"}', "bad_message"),
        (b"\x00\x01", "bad_message"),
    ],
)
def test_bad_messages_get_an_error_frame_and_the_game_goes_on(tmp_path, send, code) -> None:
    with serving(tmp_path, seed=5) as (client, server):
        with client.websocket_connect(f"/ws/BubbleBreaker-v0?{TINY}") as ws:
            ws.receive_json()
            before = ws.receive_json()
            (ws.send_bytes if isinstance(send, bytes) else ws.send_text)(send)
            error = ws.receive_json()
            assert error["type"] == "error" and error["code"] == code and error["error"]
            play_bubble_to_the_end_from(ws, before)
            ws.send_json({"type": "quit"})
        [result] = server.results
    rec = read_recording(result.path)
    assert rec.episodes[0].finished and len(rec.episodes) == 1


def test_bad_connections_are_refused_with_a_reason(tmp_path) -> None:
    with serving(tmp_path, max_sessions=1) as (client, server):
        for url, words in (("/ws/Nope-v0", "no repgym env"), ("/ws/KeyToDoor-v0?delay=-3", "0..200"),
                           ("/ws/KeyToDoor-v0?player=%3Cscript%3E", "player name"),
                           ("/ws/KeyToDoor-v0?width=4096", "unknown setting")):  # fmt: skip
            with client.websocket_connect(url) as ws:
                frame = ws.receive_json()
                assert frame["code"] == "bad_request" and words in frame["error"], url
                with pytest.raises(WebSocketDisconnect):
                    ws.receive_json()
        with client.websocket_connect("/ws/Umbrella-v0", headers={"origin": "http://evil.example"}) as ws:
            assert ws.receive_json()["code"] == "bad_origin"
        with client.websocket_connect("/ws/Umbrella-v0") as first:
            first.receive_json()
            with client.websocket_connect("/ws/Umbrella-v0") as second:
                assert second.receive_json()["code"] == "busy"
        assert len(server.results) == 1  # only the admitted session made a recording


def test_rate_limit_answers_with_an_error_frame(tmp_path) -> None:
    with (
        serving(tmp_path, rate=1.0, burst=3.0, clock=lambda: 0.0) as (client, _),
        client.websocket_connect("/ws/HiddenSequence-v0?delay=5") as ws,
    ):
        ws.receive_json(), ws.receive_json()
        replies = []
        for _ in range(5):
            ws.send_json({"type": "key", "key": "1"})
            replies.append(ws.receive_json())
        assert [r["type"] for r in replies] == ["state"] * 3 + ["error"] * 2
        assert replies[-1]["code"] == "rate_limited" and replies[2]["steps"] == 3


def test_a_dropped_client_leaves_a_disconnect_recording_and_others_play_on(tmp_path) -> None:
    with serving(tmp_path, seed=5) as (client, server):
        with client.websocket_connect(f"/ws/BubbleBreaker-v0?{TINY}&player=stays") as stays:
            stays.receive_json()
            first = stays.receive_json()
            with client.websocket_connect("/ws/Umbrella-v0?player=leaves") as leaves:
                leaves.receive_json(), leaves.receive_json()
                leaves.send_json({"type": "key", "key": "u"})
                assert leaves.receive_json()["steps"] == 1
            # the browser tab is gone (no quit message); the other session is served as before
            play_bubble_to_the_end_from(stays, first)
            stays.send_json({"type": "quit"})
        by_player = {r.player: r for r in server.results}
    dropped = read_recording(by_player["leaves"].path)
    assert dropped.closed and [ep.end_reason for ep in dropped.episodes] == ["disconnect"]
    gone = by_player["leaves"]
    assert gone.reason == "disconnect" and gone.finished == 0 and gone.submitted is None and gone.error is None
    replay(dropped)
    kept = read_recording(by_player["stays"].path)
    assert kept.closed and kept.episodes[0].finished
    assert [r["agent"] for r in rows(tmp_path)] == ["human:stays"]


def test_twenty_concurrent_sessions_all_complete_with_leaderboard_rows(tmp_path) -> None:
    with serving(tmp_path) as (client, server), contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(client.websocket_connect(f"/ws/BubbleBreaker-v0?{TINY}&player=p{i}"))
                   for i in range(20)]  # fmt: skip
        states = []
        for ws in sockets:
            ws.receive_json()
            states.append(ws.receive_json())
        while not all(s["over"] for s in states):  # one move per session per round: the sessions interleave
            for i, ws in enumerate(sockets):
                if not states[i]["over"]:
                    ws.send_json({"type": "action", "action": first_group(states[i])})
                    states[i] = ws.receive_json()
        for ws in sockets:
            ws.send_json({"type": "quit"})
        stack.close()
        results = list(server.results)
    assert len(results) == 20 and len({r.path for r in results}) == 20
    scores = {}
    for result in results:
        rec = read_recording(result.path)
        assert rec.closed and [ep.end_reason for ep in rec.episodes] == ["terminated"], result.path.name
        scores[f"human:{rec.player}"] = replay(rec).returns[0]
    board = {r["agent"]: r["mean"] for r in rows(tmp_path)}
    assert board == scores and len(board) == 20


def test_physics_body_plays_stepped_from_named_keys(tmp_path) -> None:
    with serving(tmp_path, seed=2) as (client, server):
        with client.websocket_connect("/ws/TwoLinkReach-v0?gravity=0") as ws:
            guide = ws.receive_json()["guide"]
            assert guide["press_steps"] == 5 and guide["controls"][0]["label"].startswith("shoulder torque +")
            assert ws.receive_json()["steps_left"] == 200
            ws.send_json({"type": "key", "key": "q"})
            state = ws.receive_json()
            assert state["steps"] == 5 and state["steps_left"] == 195 and state["image"].startswith("data:image/png")
            ws.send_json({"type": "action", "action": [2.0, 0.0]})  # outside the Box: refused, not clipped
            assert ws.receive_json()["code"] == "bad_action"
        [result] = server.results
    rec = read_recording(result.path)
    assert rec.env_kwargs == {"gravity": 0.0} and rec.episodes[0].end_reason == "disconnect"


def test_leaderboard_page_escapes_player_names(tmp_path) -> None:
    """A recording made elsewhere (``repgym play`` takes any name) reaches the page escaped."""
    from repgym.benchmark.submit import submit_recording
    from repgym.human.session import GameSession

    with GameSession("repgym/Umbrella-v0", {"delay": 1}, seed=0, player="<script>alert(1)</script>",
                     record_dir=tmp_path, durable=False) as s:  # fmt: skip
        s.reset()
        s.press("u")
        s.press(" ")
    with LeaderboardStore(tmp_path / "lb.sqlite") as store:
        submit_recording(s.path, store)
    with serving(tmp_path) as (client, _):
        page = client.get("/leaderboard").text
    assert "human:&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page


def test_an_idle_session_is_ended_and_recorded_as_a_disconnect(tmp_path) -> None:
    with serving(tmp_path, idle_timeout_s=0.01) as (client, server):
        with client.websocket_connect("/ws/KeyToDoor-v0?delay=1") as ws:
            ws.receive_json(), ws.receive_json()
            assert ws.receive_json()["code"] == "idle"  # the server gave up waiting for a move
            with pytest.raises(WebSocketDisconnect):
                ws.receive_json()
        [result] = server.results
    assert result.reason == "disconnect" and read_recording(result.path).episodes[0].end_reason == "disconnect"
