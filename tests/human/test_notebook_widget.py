"""The notebook front end: ``examples/play.ipynb`` runs headless (nbclient, a kernel of this Python), the widget's
synced model follows moves applied from Python, and the games are recorded; ``show`` films an agent's episode."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("anywidget", reason="the notebook extra is not installed (pip install anywidget)")

from repgym.human.recording import read_recording  # noqa: E402
from repgym.notebook import Play, show  # noqa: E402

NOTEBOOK = Path(__file__).parents[2] / "examples" / "play.ipynb"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def test_the_example_notebook_runs_headless_and_records(tmp_path, monkeypatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class ThisPython(KernelSpecManager):  # the kernel runs this interpreter (the venv), whatever is installed
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                              display_name="this python", language="python")  # fmt: skip

    monkeypatch.setenv("REPGYM_RECORDINGS", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    kernel = KernelManager(kernel_spec_manager=ThisPython(), kernel_name="python3")
    client = nbclient.NotebookClient(nb, km=kernel, timeout=300, store_widget_state=True,
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    text = "\n".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))
    assert "steps 0 -> 1, score 0.0, steps left 17" in text
    assert "refused: key 'q' does nothing in this game" in text and "removed a group: score" in text
    # the widgets' synced state, as the front end would receive it: the Python-side moves changed it
    states = [m["state"] for m in nb.metadata.widgets[WIDGET_STATE]["state"].values() if "view" in m["state"]]
    assert sorted(s["view"]["steps"] for s in states) == [1, 1]
    html = [o for c in nb.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert any("data:image/gif;base64," in o["data"]["text/html"] and "return" in o["data"]["text/html"]
               for o in html)  # fmt: skip
    recordings = sorted(tmp_path.glob("*.jsonl"))
    assert len(recordings) == 2
    for path in recordings:
        rec = read_recording(path)
        assert rec.closed and rec.player == "notebook" and len(rec.episodes[0].steps) == 1


def test_the_widget_model_follows_front_end_messages_and_records(tmp_path) -> None:
    game = Play("repgym/Umbrella-v0", delay=1, seed=4, record_dir=tmp_path, durable=False, player="ann")
    assert game.guide["title"] == "Umbrella" and game.view["steps"] == 0
    game._on_message(game, {"type": "key", "key": " "}, [])  # as a key press from the widget's front end
    assert "choose first" in game.error and game.view["steps"] == 0
    for key in ("u", " "):
        game._on_message(game, {"type": "key", "key": key}, [])
    assert game.error == "" and game.view["over"] and game.view["steps"] == 2
    game._on_message(game, {"type": "teleport"}, [])
    assert "unknown message type" in game.error
    path = game.close()
    rec = read_recording(path)
    assert rec.player == "ann" and [s.action for s in rec.episodes[0].steps] == [1, 0]


def test_show_films_an_agent_episode_with_its_score() -> None:
    film = show("expert", "KeyToDoor-v0", delay=1, seconds_per_move=0.1)
    assert film.returns and film.returns[0] > 0 and len(film.frames) == film.lengths[0] + 1
    assert film.gif()[:6] == b"GIF89a" and f"return {film.returns[0]:g}" in film._repr_html_()
    with pytest.raises(ValueError, match="give the env"):
        show("random")
