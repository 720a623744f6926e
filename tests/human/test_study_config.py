"""Study files: the example reads; every kind of mistake is one line naming the file and the field; orders are
fixed or shuffled per player, the same on every run."""

from __future__ import annotations

from pathlib import Path

import pytest

from repgym.cli import main
from repgym.human.study import StudyError, load_study

EXAMPLE = Path(__file__).parents[2] / "examples" / "study.toml"
GOOD_HEAD = '[study]\nname = "s"\n'
GAME = '[[game]]\nenv = "KeyToDoor-v0"\nsettings = { delay = 5 }\n'


def test_the_example_study_reads() -> None:
    study = load_study(EXAMPLE)
    assert [g.label for g in study.games] == ["KeyToDoor-v0 delay=0", "KeyToDoor-v0 delay=5", "KeyToDoor-v0 delay=20"]
    assert study.order == "random" and study.consent and study.episodes == 9
    assert study.games[0].env_id == "repgym/KeyToDoor-v0" and study.games[2].settings == {"delay": 20}


def test_orders_are_fixed_or_shuffled_per_player_reproducibly(tmp_path) -> None:
    study = load_study(EXAMPLE)
    orders = {tuple(study.sequence(f"p-{i:010x}")) for i in range(40)}
    assert len(orders) == 6 and study.sequence("p-0000000001") == load_study(EXAMPLE).sequence("p-0000000001")
    fixed = tmp_path / "fixed.toml"
    fixed.write_text(GOOD_HEAD + 'order = "fixed"\n' + GAME + GAME.replace("5", "6"))
    assert load_study(fixed).sequence("anyone") == [0, 1]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[study\nname=", "not valid TOML"),
        (GAME, "missing the [study] table"),
        ('[study]\nname = "a b/c"\n' + GAME, "study.name must be"),
        (GOOD_HEAD + "episodes = 0\n" + GAME, "study.episodes must be an integer in 1..1000, got 0"),
        (GOOD_HEAD + 'order = "shuffled"\n' + GAME, "study.order must be one of ['fixed', 'random']"),
        (GOOD_HEAD + "seed = -1\n" + GAME, "study.seed must be an integer"),
        (GOOD_HEAD + 'consent = "  "\n' + GAME, "study.consent must be non-empty text"),
        (GOOD_HEAD + "colour = 1\n" + GAME, "unknown field study.colour"),
        (GOOD_HEAD, "no games"),
        (GOOD_HEAD + '[[game]]\nenv = "Pong-v0"\n', "game[1].env: no repgym env named 'Pong-v0'"),
        (
            GOOD_HEAD + GAME + '[[game]]\nenv = "KeyToDoor-v0"\nsettings = { delay = 500 }\n',
            "game[2].settings.delay must be an integer in 0..200, got '500'",
        ),
        (GOOD_HEAD + '[[game]]\nenv = "KeyToDoor-v0"\nsettings = { delay = 2.5 }\n', "game[1].settings.delay must be"),
        (
            GOOD_HEAD + '[[game]]\nenv = "KeyToDoor-v0"\nsettings = { render_mode = 1 }\n',
            "game[1].settings.render_mode: not a setting of repgym/KeyToDoor-v0; it takes delay, size",
        ),
        (
            GOOD_HEAD + '[[game]]\nenv = "KeyToDoor-v0"\nsettings = { delay = "5" }\n',
            "game[1].settings.delay must be a number",
        ),
        (GOOD_HEAD + GAME + "episodes = true\n", "game[1].episodes must be an integer"),
        (GOOD_HEAD + GAME + "levels = 3\n", "unknown field game[1].levels"),
        (GOOD_HEAD + GAME + GAME, "game[2] repeats game[1] (KeyToDoor-v0 delay=5)"),
        (GOOD_HEAD + '[[game]]\nenv = "BubbleBreaker-v0"\nsuccess_return = "high"\n', "game[1].success_return"),
    ],
)
def test_a_bad_study_file_is_one_line_naming_the_file_and_the_field(tmp_path, capsys, text, words) -> None:
    path = tmp_path / "mystudy.toml"
    path.write_text(text)
    with pytest.raises(StudyError) as err:
        load_study(path)
    message = str(err.value)
    assert message.startswith("mystudy.toml: ") and words in message and "\n" not in message
    assert main(["study", "check", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"repgym study: error: {message}"


def test_a_missing_study_file_and_the_help(tmp_path, capsys) -> None:
    pytest.importorskip("uvicorn")
    assert main(["serve", "--study", str(tmp_path / "nope.toml")]) == 2  # refused before anything starts
    assert "nope.toml: cannot read the study file" in capsys.readouterr().err
    with pytest.raises(StudyError, match="nope.toml: cannot read the study file"):
        load_study(tmp_path / "nope.toml")
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    out = capsys.readouterr().out
    assert "repgym study export --study examples/study.toml" in out and "episodes to" in out
