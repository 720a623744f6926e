"""``repgym serve``'s command line: help with examples, arguments checked before anything starts."""

from __future__ import annotations

import pytest

from repgym.cli import main


def test_help_has_examples_and_the_defaults(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "repgym serve --port 8080" in out and "127.0.0.1" in out and "--db" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["--port", "0"], "--port must be 1..65535"), (["--max-sessions", "0"], "--max-sessions must be at least 1")],
)
def test_bad_arguments_are_one_line_errors(capsys, argv, words) -> None:
    pytest.importorskip("uvicorn")
    assert main(["serve", *argv]) == 2
    assert words in capsys.readouterr().err
