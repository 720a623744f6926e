"""The zoo: shipped checkpoints read as ``zoo:NAME``, their manifest, ``repgym zoo`` and the script that builds an
entry; and every checkpoint the package ships loads and beats random on its env."""

from __future__ import annotations

from pathlib import Path

import pytest

from repgym.agents import load_agent, make_agent
from repgym.agents.zoo import MANIFEST, Score, ZooEntry, read_zoo, write_entry, zoo_entry
from repgym.cli import main
from repgym.runs import ZOO_DIR_VAR, Checkpoint, EnvSpec, EvalProtocol, play, shipped_zoo_dir, zoo_names

COMMAND = "repgym train qr-dqn CartPole-v1 --steps 200 --no-tuned --set net_arch=[16,16] --out runs/tiny"
HEADER = "# a test zoo: this comment stays\n"


@pytest.fixture(scope="module")
def build_script(benchmark_script):
    return benchmark_script("build_zoo_entry")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny trained checkpoint, replay buffer included (as ``repgym train`` leaves one)."""
    agent = make_agent("qr-dqn", "CartPole-v1", seed=0, net_arch=[16, 16], n_quantiles=8, buffer_size=500,
                       learning_starts=50, log_interval=10_000)  # fmt: skip
    agent.learn(200)
    folder = agent.save(tmp_path_factory.mktemp("run") / "checkpoint")
    assert (Path(folder) / "replay.pt").is_file()
    return Path(folder)


@pytest.fixture(scope="module")
def built(tmp_path_factory, trained, build_script) -> Path:
    """A temporary zoo holding the entry ``tiny`` built from ``trained`` (5 evaluation episodes)."""
    zoo = tmp_path_factory.mktemp("zoo")
    (zoo / MANIFEST).write_text(HEADER)
    build_script.build_entry("tiny", trained, COMMAND, 12.0, zoo=zoo, episodes=5, date="2025-01-02", log=lambda _: 0)
    return zoo


@pytest.fixture
def zoo(built, monkeypatch) -> Path:
    monkeypatch.setenv(ZOO_DIR_VAR, str(built))
    return built


# -- the build script ---------------------------------------------------------------------------------------------


def test_the_build_script_writes_a_loadable_entry_without_the_replay_buffer(zoo, trained) -> None:
    assert sorted(p.name for p in (zoo / "tiny").iterdir()) == ["agent.json", "weights.pt"]
    assert zoo_names() == ["tiny"] and not [p for p in zoo.iterdir() if p.name.startswith(".")]
    agent = load_agent("zoo:tiny")
    original = Checkpoint.read(trained)
    assert agent.num_timesteps == original.num_timesteps == 200
    entry = zoo_entry("tiny")
    assert entry.agent == "qr-dqn" and entry.env == EnvSpec("CartPole-v1") and entry.train_steps == 200
    assert entry.command == COMMAND and entry.cpu_seconds == 12.0 and entry.date == "2025-01-02"
    assert entry.expert is None and entry.expert_normalised is None  # CartPole has no expert baseline
    # the numbers are the default protocol's games, played again
    env = Checkpoint.read("zoo:tiny").make_env()
    assert entry.protocol == EvalProtocol(5)
    assert entry.score.mean == pytest.approx(play(agent, env, entry.protocol).mean, abs=1e-4)
    assert entry.random.mean == pytest.approx(play(None, env, entry.protocol).mean, abs=1e-4)
    assert (zoo / MANIFEST).read_text().startswith(HEADER)


def test_rebuilding_replaces_its_table_and_keeps_the_others(tmp_path, trained, build_script) -> None:
    zoo = tmp_path / "zoo"
    log = lambda _: 0  # noqa: E731
    build_script.build_entry("one", trained, COMMAND, 1, zoo=zoo, episodes=1, log=log)
    build_script.build_entry("two", trained, COMMAND, 2, zoo=zoo, episodes=1, log=log)
    text = (zoo / MANIFEST).read_text()
    (zoo / MANIFEST).write_text(text.replace("[two]", "# about two\n[two]"))
    build_script.build_entry("one", trained, COMMAND, 7, zoo=zoo, episodes=1, log=log)
    entries = read_zoo(zoo)
    assert [(e.name, e.cpu_seconds) for e in entries] == [("one", 7.0), ("two", 2.0)]
    assert "# about two\n[two]" in (zoo / MANIFEST).read_text()
    assert zoo_names(zoo) == ["one", "two"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name"}, "a zoo name is lower-case letters"),
        ({"command": "python train.py"}, "expected the `repgym train ...` command"),
        ({"command": "repgym train sb3-ppo CartPole-v1"}, "does not train qr-dqn on CartPole-v1"),
        ({"max_mb": 0.001}, "MB without the replay buffer, over the 0.001 MB"),
    ],
)
def test_the_build_script_refuses_what_cannot_be_shipped(tmp_path, trained, build_script, kwargs, message) -> None:
    arguments = {"name": "tiny", "source": trained, "command": COMMAND, "cpu_seconds": 1.0, "zoo": tmp_path,
                 "episodes": 1, "log": lambda _: 0, **kwargs}  # fmt: skip
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_script.build_entry(**arguments)
    assert not list(tmp_path.iterdir())  # nothing left behind


# -- zoo:NAME everywhere ------------------------------------------------------------------------------------------


def test_repgym_eval_plays_a_zoo_checkpoint(zoo, capsys) -> None:
    assert main(["eval", "zoo:tiny", "--episodes", "2"]) == 0
    assert capsys.readouterr().out.startswith("qr-dqn on CartPole-v1 (200 training steps): return ")
    assert main(["eval", "zoo:nope"]) == 2
    assert capsys.readouterr().err == "repgym eval: error: zoo:nope: no such checkpoint in the zoo; known: tiny " \
                                      "(repgym zoo describes them)\n"  # fmt: skip


def test_repgym_record_takes_a_zoo_checkpoint_for_a_checkpoint(zoo) -> None:
    from repgym.benchmark.video import make_player

    env = EnvSpec("CartPole-v1").make()
    assert make_player("zoo:tiny", env).name == "qr-dqn"  # not mistaken for an agent or baseline name
    with pytest.raises(ValueError, match="^zoo:typo: no such checkpoint in the zoo; known: tiny"):
        make_player("zoo:typo", env)


# -- repgym zoo ---------------------------------------------------------------------------------------------------


def test_repgym_zoo_lists_the_entries(zoo, capsys) -> None:
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    entry = zoo_entry("tiny")
    for text in ("tiny", "CartPole-v1", "qr-dqn", entry.score.text(), entry.random.text(), "200 steps", "12 s"):
        assert text in out, text


def test_repgym_zoo_name_shows_how_to_reproduce_it(zoo, capsys) -> None:
    assert main(["zoo", "tiny"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("zoo:tiny: qr-dqn on CartPole-v1\n")
    assert f"    {COMMAND}\n" in out and "repgym eval zoo:tiny --episodes 5" in out
    assert main(["zoo", "zoo:nope"]) == 2
    assert capsys.readouterr().err == f"repgym zoo: error: zoo:nope: no such entry in {zoo / MANIFEST}; known: tiny\n"


def test_an_empty_zoo_says_so(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(ZOO_DIR_VAR, str(tmp_path))
    assert main(["zoo"]) == 0
    assert capsys.readouterr().out.startswith("no trained agents in the zoo yet")


def test_repgym_zoo_help_has_examples(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["zoo", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "repgym eval zoo:NAME" in out


# -- the manifest -------------------------------------------------------------------------------------------------


def _entry(**changes) -> ZooEntry:
    values = {"name": "a", "agent": "qr-dqn", "env": EnvSpec("repgym/Umbrella-v0", {"delay": 5}), "train_steps": 10,
              "cpu_seconds": 1.0, "score": Score(0.8, 0.1, 0.9), "random": Score(0.0, 0.5, 0.5),
              "expert": Score(1.0, 0.0, 1.0), "date": "2025-01-01",
              "command": 'repgym train x --set a="b c" --set net_arch=[64,64]'}  # fmt: skip
    return ZooEntry(**{**values, **changes})


def test_an_entry_reads_back_as_written(tmp_path) -> None:
    entry = _entry()
    write_entry(entry, tmp_path)
    back = read_zoo(tmp_path)[0]
    assert back == ZooEntry(**{**entry.__dict__, "manifest": tmp_path / MANIFEST})
    assert back.expert_normalised == pytest.approx(0.8) and back.ref == "zoo:a"
    assert back.folder == tmp_path / "a"


GOOD_TABLE = {"checkpoint": '"a"', "agent": '"qr-dqn"', "env_id": '"CartPole-v1"', "train_steps": "10",
              "cpu_seconds": "1.0", "score": "{ mean = 1.0, std = 0.0 }", "random": "{ mean = 0.0, std = 0.0 }",
              "date": '"2025-01-01"', "command": '"repgym train qr-dqn CartPole-v1"'}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"env_id": None, "date": None}, "missing env_id, date"),
        ({"checkpoint": '"b"'}, "checkpoint = 'b'; it must be the table's name, the folder that zoo:a reads"),
        ({"train_steps": "1.5"}, "train_steps must be an integer, got 1.5"),
        ({"score": "3"}, "score must be a table { mean = ..., std = ... } (success_rate optional), got 3"),
        ({"env_kwargs": "5"}, "env_kwargs must be a table such as { delay = 5 }, got 5"),
    ],
)
def test_a_broken_table_is_one_line_naming_the_file_and_entry(tmp_path, changes, message) -> None:
    table = {**GOOD_TABLE, **changes}
    (tmp_path / MANIFEST).write_text("[a]\n" + "".join(f"{k} = {v}\n" for k, v in table.items() if v is not None))
    with pytest.raises(ValueError) as err:
        read_zoo(tmp_path)
    assert str(err.value) == f"{tmp_path / MANIFEST}: entry [a]: {message}"


# -- what the package ships ---------------------------------------------------------------------------------------

SHIPPED = read_zoo(shipped_zoo_dir())


def test_the_shipped_manifest_and_folders_agree() -> None:
    folders = zoo_names(shipped_zoo_dir())
    assert sorted(e.name for e in SHIPPED) == folders, "every checkpoint folder needs its zoo.toml table and back"
    for entry in SHIPPED:
        files = sorted(p.name for p in entry.folder.iterdir())
        assert files == ["agent.json", "weights.pt"], f"{entry.folder} ships {files}"
        checkpoint = Checkpoint.read(entry.folder)
        assert (checkpoint.agent, checkpoint.env) == (entry.agent, entry.env), entry.name


@pytest.mark.parametrize("name", [e.name for e in SHIPPED])
def test_each_shipped_checkpoint_loads_and_beats_random(name, monkeypatch) -> None:
    monkeypatch.delenv(ZOO_DIR_VAR, raising=False)
    checkpoint = Checkpoint.read(f"zoo:{name}")
    protocol = EvalProtocol(10)  # fixed seeds: 1,000,000 + i
    env = checkpoint.make_env()
    agent = play(load_agent(checkpoint, env=env), env, protocol)
    random = play(None, checkpoint.make_env(), protocol)
    assert agent.mean > random.mean, f"zoo:{name}: {agent.mean:.3f} vs random {random.mean:.3f}"
