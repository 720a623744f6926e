"""The browser's messages are checked before anything acts on them; player names; the rate limit."""

from __future__ import annotations

import json

import pytest

from repgym.human.web.messages import MessageError, RateLimit, check_player, parse_message


def test_valid_messages_pass() -> None:
    assert parse_message('{"type":"reset"}') == {"type": "reset"}
    assert parse_message('{"type":"action","action":[0.5,-1]}')["action"] == [0.5, -1]
    assert parse_message('{"type":"key","key":"ArrowUp"}')["key"] == "ArrowUp"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (None, "bad_message"),  # a binary frame
        ("x" * 3000, "too_large"),
        ('{"type":"action","action":' + "[" * 5000, "too_large"),
        ("{not json", "bad_json"),
        ('{"type":"action","action":NaN}', "bad_json"),
        ('{"type":"action","action":Infinity}', "bad_json"),
        ("[1, 2]", "bad_message"),
        ('"reset"', "bad_message"),
        ("{}", "unknown_type"),
        ('{"type":"teleport"}', "unknown_type"),
        ('{"type":3}', "unknown_type"),
        ('{"type":"reset","path":"/etc/passwd"}', "bad_message"),
        ('{"type":"action"}', "bad_message"),
        ('{"type":"key","key":""}', "bad_message"),
        ('{"type":"key","key":7}', "bad_message"),
        ('{"type":"action","action":"3"}', "bad_action"),
        ('{"type":"action","action":true}', "bad_action"),
        ('{"type":"action","action":[]}', "bad_action"),
        ('{"type":"action","action":[[1]]}', "bad_action"),
        ('{"type":"action","action":' + json.dumps(list(range(17))) + "}", "bad_action"),
    ],
)
def test_bad_messages_are_refused_with_a_code(text: str | None, code: str) -> None:
    with pytest.raises(MessageError) as err:
        parse_message(text)
    assert err.value.code == code and "\n" not in str(err.value)


def test_player_names_are_short_and_plain() -> None:
    assert check_player(None) == "anonymous" and check_player("") == "anonymous"
    assert check_player("Ann-Marie_2.0") == "Ann-Marie_2.0"
    for bad in ("<script>alert(1)</script>", "a" * 33, " lead", "../../etc", "ünïcode", "tab\there", "a/b"):
        with pytest.raises(ValueError, match="player name"):
            check_player(bad)


def test_rate_limit_allows_a_burst_then_the_refill_rate() -> None:
    now = [0.0]
    limit = RateLimit(rate=2.0, burst=3.0, clock=lambda: now[0])
    assert [limit.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [limit.allow(), limit.allow()] == [True, False]
    now[0] += 100.0  # never more than the burst
    assert sum(limit.allow() for _ in range(10)) == 3
