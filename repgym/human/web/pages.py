"""The server's HTML: the home page (every env, the leaderboard link), a game page per env, error pages.

Pages are plain strings built here; every value that did not come from this file goes through ``html.escape``.
The game page carries what its script needs in ``data-`` attributes (no inline script, so the page can forbid
them: see ``CSP`` in :mod:`.app`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from repgym.envs.registry import EnvEntry
from repgym.human.guides import Guide, Setting

FAMILIES = (("bubble", "Bubble Breaker and SameGame", "click groups of bubbles"),
            ("physics", "MuJoCo bodies", "drive an arm's motors, one short burst per key press"),
            ("delayed", "Delayed-reward games", "decisions whose consequences come later"))  # fmt: skip
# Links worth a click on the home page: the delays a study of delayed feedback would compare.
EXAMPLE_SETTINGS: dict[str, list[dict[str, int]]] = {
    "KeyToDoor-v0": [{"delay": 0}, {"delay": 5}],
    "Umbrella-v0": [{"delay": 5}],
    "LaggedControl-v0": [{"delay": 0}, {"delay": 2}],
    "HiddenSequence-v0": [{"delay": 1}],
    "BubbleBreaker-v0": [{"rows": 6, "cols": 6, "colours": 3}],
}

e = html.escape


def _page(title: str, body: str, body_attrs: str = "") -> str:
    head = (f"<meta charset='utf-8'><title>{e(title)}</title><link rel='stylesheet' href='/static/style.css'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>")  # fmt: skip
    return f"<!doctype html><html lang='en'><head>{head}</head><body{body_attrs}>{body}</body></html>"


def _family(entry: EnvEntry) -> str:
    return entry.entry_point.split(".")[2]  # repgym.envs.<family>.module:Class


def home_page(entries: list[EnvEntry], leaderboard: bool) -> str:
    """Every env by family, each a link to its game page."""
    parts = ["<header><h1>repgym — play</h1><nav>",
             "<a href='/leaderboard'>leaderboard</a>" if leaderboard else "", "</nav></header><main class='home'>",
             "<p class='intro'>Every game runs on this server, the same Gymnasium env agents train on; your browser "
             "only sends your moves. Each session is recorded, and finished games count for the human rows of the "
             "leaderboard.</p>"]  # fmt: skip
    for family, title, what in FAMILIES:
        members = [entry for entry in entries if _family(entry) == family]
        if not members:
            continue
        parts.append(f"<section><h2>{e(title)}</h2><p class='what'>{e(what)}</p><ul class='games'>")
        for entry in members:
            examples = " ".join(
                f"<a class='variant' href='{e(_play_url(entry.name, s))}'>{e(_settings_text(s))}</a>"
                for s in EXAMPLE_SETTINGS.get(entry.name, [])
            )
            desc = entry.description.replace("`", "")  # the registry's Markdown quotes
            parts.append(f"<li><a class='game' href='{e(_play_url(entry.name, {}))}'>{e(entry.name)}</a> "
                         f"<span class='desc'>{e(desc)} {examples}</span></li>")  # fmt: skip
        parts.append("</ul></section>")
    parts.append("</main>")
    return _page("repgym — play", "".join(parts))


def _play_url(name: str, settings: dict[str, Any]) -> str:
    query = urlencode(settings)
    return f"/play/{name}" + (f"?{query}" if query else "")


def _settings_text(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in settings.items())


@dataclass(frozen=True)
class StudyPlace:
    """Where a study's game page stands: game ``position`` of ``count`` in the player's sequence, ``episodes`` to
    play of which ``played`` are done; the socket to play on and the page to go to once they are played."""

    title: str
    position: int
    count: int
    episodes: int
    played: int
    player: str
    socket: str
    next_url: str


def game_page(entry: EnvEntry, guide: Guide, settings: dict[str, Any], allowed: dict[str, Setting],
              current: dict[str, Any], leaderboard: bool, study: StudyPlace | None = None) -> str:  # fmt: skip
    """The page of one game: the canvas, status line, buttons, and the guide (goal, controls, legend, settings).
    ``settings`` are the validated query settings (they travel to the WebSocket), ``current`` every allowed
    setting's value in the env. In a ``study`` the settings are fixed and shown, the player is the study's anonymous
    id, and a link to the next game appears once this one's episodes are played."""
    shown = _settings_text(settings)
    by_label: dict[str, list[str]] = {}
    for c in guide.controls:  # arrows and WASD doing the same thing share a row
        by_label.setdefault(c.label, []).append(f"<kbd>{e(c.caption)}</kbd>")
    controls = "".join(f"<tr><td>{' '.join(keys)}</td><td>{e(label)}</td></tr>" for label, keys in by_label.items())
    if guide.kind == "board":
        controls = ("<tr><td><kbd>click</kbd></td><td>remove the group under the mouse (2+ bubbles)</td></tr>"
                    "<tr><td><kbd>hover</kbd></td><td>outline the group and show its points</td></tr>")  # fmt: skip
    what = "next round (once a round is over)" if study else "next game (once a game is over)"
    controls += f"<tr><td><kbd>Enter</kbd></td><td>{what}</td></tr>"
    legend = "".join(
        "<li><span class='swatch outline'></span>" + e(meaning) + "</li>" if colour == "outline"
        else f"<li><span class='swatch' style='background:{e(colour)}'></span>{e(meaning)}</li>"
        for colour, meaning in guide.legend
    )  # fmt: skip
    notes = "".join(f"<p class='note'>{e(n)}</p>" for n in guide.notes)
    fields = "".join(
        f"<label>{e(s.name)} <input name='{e(s.name)}' value='{e(_fmt(current.get(s.name)))}' size='6' "
        f"title='{e(s.help)}: {e(s._expected())}'></label> "
        for s in allowed.values()
    )
    form = (f"<form method='get' action='/play/{e(entry.name)}' class='settings'>{fields}"
            "<button type='submit'>play with these settings</button></form>") if allowed else "<p>none</p>"  # fmt: skip
    if study is not None:
        fixed = "".join(f"<li>{e(name)} = {e(_fmt(value))}</li>" for name, value in settings.items())
        form = f"<ul class='fixed'>{fixed}</ul><p class='note'>set by the study</p>" if fixed else "<p>none</p>"
        back = "<a href='/study'>← study</a>"
        where = f"{e(study.title)} · game {study.position} of {study.count}"
        player = (f"<div class='player'>your anonymous id: <code id='s-player'>{e(study.player)}</code></div>"
                  f"<a id='next' class='next' href='{e(study.next_url)}' hidden>continue with the study →"
                  "</a>")  # fmt: skip
        new_game, leaderboard = "next round", False
    else:
        back, new_game = "<a href='/'>← all games</a>", "new game"
        where = f"{e(entry.id)}{' · ' + e(shown) if shown else ''}"
        player = ("<div class='player'><label>player <input id='player' maxlength='32' size='16' "
                  "placeholder='anonymous'></label> "
                  "<button id='rename' type='button'>play as this name</button></div>")  # fmt: skip
    body = (
        f"<header>{back}<h1>{e(guide.title)}</h1><span class='env'>{where}</span><nav>"
        f"{'<a href=/leaderboard>leaderboard</a>' if leaderboard else ''}</nav></header>"
        "<main class='game'><section class='play'>"
        "<div id='status' class='status'><span id='s-game'>game –</span><span id='s-score'>score –</span>"
        "<span id='s-steps'>step –</span><span id='s-left'></span>"
        f"{'<span id=s-delay>delay –</span>' if 'delay' in current else ''}</div>"
        "<div id='message' class='message' role='status'>connecting…</div>"
        + (
            "<canvas id='screen' width='640' height='560' tabindex='0' aria-label='the board'></canvas>"
            if guide.kind == "board"
            else "<img id='frame' alt='the game' width='512' height='512'>"
        )
        + f"<div class='buttons' id='buttons'><button id='new-game' type='button'>{new_game}</button></div>"
        f"{player}</section>"
        f"<aside><h2>Goal</h2><p class='goal'>{e(guide.goal)}</p>{notes}"
        f"<h2>Controls</h2><table class='controls'>{controls}</table>"
        f"<h2>Legend</h2><ul class='legend'>{legend}</ul>"
        f"<h2>Settings</h2>{form}</aside></main>"
    )
    attrs = f" data-env='{e(entry.name)}' data-kind='{e(guide.kind)}' data-query='{e(urlencode(settings))}'"
    if study is not None:
        attrs += (f" data-socket='{e(study.socket)}' data-episodes='{study.episodes}' "
                  f"data-played='{study.played}'")  # fmt: skip
    return _page(f"{guide.title} — repgym", body + "<script src='/static/game.js'></script>", attrs)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def message_page(title: str, message: str) -> str:
    """An error or notice page with a way back."""
    body = f"<header><a href='/'>← all games</a><h1>{e(title)}</h1></header><main><p>{e(message)}</p></main>"
    return _page(title, body)


# -- a study -------------------------------------------------------------------------------------------------------


def _study_page(study_title: str, body: str, data: str, script: str | None = None) -> str:
    header = f"<header><h1>{e(study_title)}</h1><span class='env'>a repgym study</span></header>"
    tail = f"<script src='/static/{script}'></script>" if script else ""
    return _page(study_title, f"{header}<main class='study'>{body}</main>{tail}", data)


def study_intro_page(name: str, title: str, games: int, episodes: int, consent: str | None) -> str:
    """The study's first page: what the player will do, the consent text, and the start button (the script gives
    the browser its anonymous id and goes to the first game)."""
    paragraphs = "".join(f"<p>{e(p.strip())}</p>" for p in (consent or "").split("\n\n") if p.strip())
    consent_html = f"<section class='consent'><h2>Before you start</h2>{paragraphs}</section>" if consent else ""
    body = (f"<p class='intro'>You will play {games} short game{'s' * (games != 1)}, {episodes} rounds in all. Each "
            "game page says what to do and which keys to press. Your moves are recorded on the server under an "
            "anonymous id that this browser makes up.</p>"
            f"{consent_html}"
            "<p class='player'>your anonymous id: <code id='s-player'>…</code></p>"
            f"<p><button id='start' type='button' class='start'>{'I agree — start' if consent else 'start'}</button>"
            "</p>")  # fmt: skip
    return _study_page(title, body, f" data-study='{e(name)}'", "study.js")


def study_end_page(title: str, player: str, results: list[tuple[str, int, int | None, float]]) -> str:
    """The last page: thanks, and per game in the order played (label, games, successes or None, mean score)."""
    rows = "".join(
        f"<tr><td>{e(label)}</td><td>{n}</td><td>{'–' if wins is None else wins}</td><td>{mean:.2f}</td></tr>"
        for label, n, wins, mean in results
    )
    body = ("<h2>Thank you!</h2><p class='intro'>You have played every game of this study; your games are saved. "
            "You can close this page.</p>"
            "<table class='results'><thead><tr><th>game (in the order played)</th><th>rounds</th>"
            "<th>successes</th><th>mean score</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
            f"<p class='player'>your anonymous id: <code id='s-player'>{e(player)}</code></p>")  # fmt: skip
    return _study_page(title, body, "")
