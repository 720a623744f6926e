"""Checkpoint.read: one validated reader; every broken folder is one line naming the file and what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import repgym
from repgym.cli import main
from repgym.runs import (
    ZOO_DIR_VAR,
    Checkpoint,
    CheckpointError,
    EnvSpec,
    is_checkpoint_ref,
    resolve_checkpoint_path,
    shipped_zoo_dir,
    write_checkpoint,
    zoo_dir,
    zoo_names,
)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "checkpoints"


@pytest.fixture
def good(tmp_path) -> Path:
    return write_checkpoint(
        tmp_path / "ckpt",
        {"agent": "qr-dqn", "env_id": "CartPole-v1", "env_kwargs": {}, "seed": 3, "num_timesteps": 42,
         "hyperparameters": {"batch_size": 8}},
        {"net": {"w": torch.ones(2)}},
        resume_tensors={"replay": {"obs": torch.zeros(4)}},
    )  # fmt: skip


def test_read_gives_typed_metadata_and_loads_tensors_on_demand(good) -> None:
    ckpt = Checkpoint.read(good)
    assert ckpt.agent == "qr-dqn" and ckpt.env == EnvSpec("CartPole-v1") and ckpt.seed == 3
    assert ckpt.num_timesteps == 42 and ckpt.hyperparameters == {"batch_size": 8}
    assert ckpt.versions["torch"] == torch.__version__ and ckpt.versions["repgym"] and ckpt.versions["gymnasium"]
    assert ckpt._tensors is None  # nothing loaded yet
    assert torch.equal(ckpt.tensors()["net"]["w"], torch.ones(2)) and "replay" not in ckpt.tensors()
    assert torch.equal(ckpt.resume_tensors()["replay"]["obs"], torch.zeros(4))
    assert Checkpoint.read(ckpt) is ckpt


def test_resume_state_is_never_read_for_acting(good, monkeypatch) -> None:
    loaded: list[str] = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda f, *a, **k: loaded.append(Path(f).name) or real(f, *a, **k))
    ckpt = Checkpoint.read(good)
    ckpt.tensors()
    ckpt.tensors()
    assert loaded == ["weights.pt"]


def test_a_legacy_checkpoint_keeps_its_buffer_apart() -> None:
    ckpt = Checkpoint.read(FIXTURES / "qr-dqn")  # written before replay.pt: the buffer sits in weights.pt
    assert "replay" not in ckpt.tensors() and "q_net" in ckpt.tensors()
    assert "obs" in ckpt.resume_tensors()["replay"]
    assert ckpt.env.id == "repgym/BubbleBreaker-v0"
    assert {"rows": 4, "cols": 4, "colours": 3}.items() <= ckpt.env.kwargs.items()


def test_saving_without_resume_state_removes_a_stale_replay_file(good) -> None:
    assert (good / "replay.pt").is_file()
    write_checkpoint(good, {"agent": "qr-dqn"}, {"net": {}})
    assert not (good / "replay.pt").exists() and Checkpoint.read(good).resume_tensors() == {}


def _broken(tmp_path: Path, good: Path, case: str) -> Path:
    folder = tmp_path / case
    shutil.copytree(good, folder)
    if case == "no-weights":
        (folder / "weights.pt").unlink()
    elif case == "empty-weights":
        (folder / "weights.pt").write_bytes(b"")
    elif case == "truncated-weights":
        data = (good / "weights.pt").read_bytes()
        (folder / "weights.pt").write_bytes(data[: len(data) // 2])
    elif case == "truncated-json":
        text = (folder / "agent.json").read_text()
        (folder / "agent.json").write_text(text[: text.index('"num_timesteps"')])
    elif case == "foreign-json":
        (folder / "agent.json").write_text('{"hello": 1}')
    elif case == "pickled-weights":
        torch.save({"net": {"w": torch.ones(2)}, "code": Path("x")}, folder / "weights.pt")
    elif case == "no-meta":
        (folder / "agent.json").unlink()
    return folder


CASES = {
    "no-meta": "{folder}: not a repgym checkpoint (agent.json is missing)",
    "no-weights": "{folder}: weights.pt is missing",
    "empty-weights": "{folder}/weights.pt: empty file (the save was cut short?)",
    "truncated-weights": "{folder}/weights.pt: not a torch tensor archive (truncated or another format)",
    "truncated-json": "{folder}/agent.json: invalid JSON at line {line}, column {column}",
    "foreign-json": '{folder}/agent.json: not a repgym checkpoint (no "format": "repgym-agent")',
    "pickled-weights": "{folder}/weights.pt needs pickle to load and was refused (repgym loads tensors only)",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_broken_checkpoint_is_one_line_naming_the_file(tmp_path, good, case, capsys) -> None:
    folder = _broken(tmp_path, good, case)
    fields = {"folder": folder}
    if case == "truncated-json":
        text = (folder / "agent.json").read_text()
        fields |= {"line": text.count("\n") + 1, "column": len(text.rsplit("\n", 1)[-1]) + 1}
        with pytest.raises(json.JSONDecodeError):
            json.loads(text)
    expected = CASES[case].format(**fields)
    with pytest.raises(CheckpointError) as err:
        Checkpoint.read(folder).tensors()
    assert str(err.value) == expected
    # the command line says the same, in one line, without torch's advice to load with weights_only=False
    assert main(["eval", str(folder)]) == 2
    message = capsys.readouterr().err
    assert message == f"repgym eval: error: {expected}\n" and "weights_only" not in message


def test_a_missing_folder_and_a_plain_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match=r"missing: no such checkpoint folder$"):
        Checkpoint.read(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="not a repgym checkpoint"):
        Checkpoint.read(tmp_path / "file")


def test_a_newer_format_asks_for_an_upgrade(tmp_path, good) -> None:
    meta = json.loads((good / "agent.json").read_text())
    (good / "agent.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(CheckpointError, match=r"written by a newer repgym \(format 99\); upgrade repgym$"):
        Checkpoint.read(good)


def test_make_env_rebuilds_the_recorded_env_with_overrides() -> None:
    ckpt = Checkpoint.read(FIXTURES / "qr-dqn")
    env = ckpt.make_env(rows=5)
    assert env.spec.id == "repgym/BubbleBreaker-v0" and env.unwrapped.config.rows == 5
    assert env.unwrapped.config.cols == 4


# -- zoo:NAME -----------------------------------------------------------------------------------------------------


@pytest.fixture
def zoo(tmp_path, good, monkeypatch) -> Path:
    """A zoo folder holding ``good`` as ``zoo:cartpole``, read instead of the package's."""
    folder = tmp_path / "zoo"
    shutil.copytree(good, folder / "cartpole")
    (folder / ".cartpole.building").mkdir()  # a build in progress is not an entry
    monkeypatch.setenv(ZOO_DIR_VAR, str(folder))
    return folder


def test_a_zoo_name_is_read_through_checkpoint_read(zoo) -> None:
    ckpt = Checkpoint.read("zoo:cartpole")
    assert ckpt.path == zoo / "cartpole" and ckpt.agent == "qr-dqn" and ckpt.num_timesteps == 42
    assert resolve_checkpoint_path("zoo:cartpole") == zoo / "cartpole"
    assert resolve_checkpoint_path("runs/x/checkpoint") == Path("runs/x/checkpoint")
    assert zoo_names() == ["cartpole"]


def test_an_unknown_zoo_name_is_one_line_listing_the_known_ones(zoo, tmp_path, monkeypatch, capsys) -> None:
    expected = "zoo:cartpol: no such checkpoint in the zoo; known: cartpole (repgym zoo describes them)"
    with pytest.raises(CheckpointError) as err:
        Checkpoint.read("zoo:cartpol")
    assert str(err.value) == expected
    assert main(["eval", "zoo:cartpol"]) == 2
    assert capsys.readouterr().err == f"repgym eval: error: {expected}\n"
    for outside in ("zoo:../zoo/cartpole", "zoo:", "zoo:.cartpole.building"):  # only the zoo's own entries
        with pytest.raises(CheckpointError, match="no such checkpoint in the zoo"):
            Checkpoint.read(outside)
    monkeypatch.setenv(ZOO_DIR_VAR, str(tmp_path / "empty"))
    with pytest.raises(CheckpointError, match=r"^zoo:cartpole: no such checkpoint in the zoo; known: none yet \("):
        Checkpoint.read("zoo:cartpole")


def test_is_checkpoint_ref_tells_checkpoints_from_names(zoo, good) -> None:
    assert is_checkpoint_ref(good) and is_checkpoint_ref(str(good)) and is_checkpoint_ref(Checkpoint.read(good))
    assert is_checkpoint_ref("zoo:cartpole") and is_checkpoint_ref("zoo:typo")  # a typo fails when read, listing
    assert not is_checkpoint_ref("random") and not is_checkpoint_ref("policy:expert")
    assert not is_checkpoint_ref(good.parent)  # a folder without agent.json


def test_the_shipped_zoo_is_package_data(monkeypatch) -> None:
    monkeypatch.delenv(ZOO_DIR_VAR, raising=False)
    assert zoo_dir() == shipped_zoo_dir() == Path(repgym.__file__).parent / "assets" / "zoo"
    assert (shipped_zoo_dir() / "zoo.toml").is_file()
