"""The Gaussian-mixture VQ latent: its two temperature limits (nearest-code VQ, the codebook mean), its loss at
temperature 0 (the VQ-VAE's), annealing, checkpoints, M and the world-model agent on it, the CLI option, and the
temperature measured in units of the codes' mean squared distance (``temperature_unit="codes"``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

import repgym.envs  # noqa: F401
from repgym.agents import load_agent
from repgym.agents.world_model import WorldModelAgent
from repgym.cli import main
from repgym.worlds import checkpoint
from repgym.worlds.data import Episode
from repgym.worlds.gmmvq import GMMVQVAE, mean_squared_distance
from repgym.worlds.mdn_rnn import MDNRNN
from repgym.worlds.training import encode_episodes, train_vision
from repgym.worlds.vqvae import VQVAE


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    torch.set_num_threads(1)


def _model(temperature: float, **kw) -> GMMVQVAE:
    model = GMMVQVAE(codebook_size=7, code_dim=3, channels=2, temperature=temperature, **kw)
    torch.nn.init.normal_(model.codebook.weight)  # spread codes, so assignments differ between positions
    return model.eval()


def _nearest_code_latent(model: GMMVQVAE, x: torch.Tensor) -> torch.Tensor:
    """VQ by brute force: each position's encoder output replaced by its nearest codebook entry."""
    e = model.encoder(x)  # (B, D, g, g)
    book = model.codebook.weight
    if model.spherical:
        e, book = torch.nn.functional.normalize(e, dim=1), torch.nn.functional.normalize(book, dim=1)
    flat = e.flatten(2).transpose(1, 2)  # (B, P, D)
    dist = (flat[:, :, None, :] - book[None, None]).pow(2).sum(-1)  # (B, P, K)
    nearest = book[dist.argmin(-1)]  # (B, P, D)
    return nearest.transpose(1, 2).reshape(x.shape[0], -1)


@pytest.mark.parametrize("seed,spherical", [(0, True), (1, True), (2, False), (3, False)])
def test_temperature_to_zero_is_exactly_nearest_code_vq(seed, spherical):
    torch.manual_seed(seed)
    model = _model(0.5, spherical=spherical)
    x = torch.rand(5, 3, 64, 64)
    with torch.no_grad():
        expected = _nearest_code_latent(model, x)
        assert torch.equal(model.soft_latent(x, 0.0), expected)
        assert torch.equal(model.soft_latent(x, 1e-9), expected)  # the softmax has collapsed to one-hot
        assert torch.equal(model.embed(model.codes(x)), expected)
        hard = _model(0.0)
        assert torch.equal(hard.encode(x), hard.embed(hard.codes(x)))


def test_high_temperature_is_the_codebook_mean_and_weights_sum_to_one():
    model = _model(1e9)
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        z = model.encode(x).view(4, model.code_dim, model.positions)
        mean = model.book().mean(0)
        torch.testing.assert_close(z, mean[None, :, None].expand_as(z), atol=1e-6, rtol=0)
        w = model.assignments(model.encoder(x), 0.7)
    assert w.shape == (4, 16, 7)
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 16))


def test_loss_at_temperature_zero_equals_the_vqvae_loss():
    soft = _model(0.0, spherical=False).train()
    vq = VQVAE(codebook_size=7, code_dim=3, channels=2).train()
    vq.load_state_dict({k: v for k, v in soft.state_dict().items() if k != "steps"})
    x = torch.rand(4, 3, 64, 64)
    a, parts_vq = vq.loss(x)
    b, parts = soft.loss(x)
    assert a.item() == b.item() and parts["recon"] == parts_vq["recon"] and parts["vq"] == parts_vq["vq"]
    a.backward()
    b.backward()
    for (name, p), q in zip(vq.named_parameters(), soft.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)  # the straight-through gradients too


def test_soft_latent_is_differentiable_and_anneals():
    model = _model(0.0, temperature_start=2.0, anneal_steps=4).train()
    assert [model.training_temperature()] == [2.0]
    x = torch.rand(2, 3, 64, 64)
    seen = []
    for _ in range(5):
        loss, parts = model.loss(x)
        seen.append(parts["temperature"])
    assert seen == [2.0, 1.5, 1.0, 0.5, 0.0] and int(model.steps) == 5
    assert model.eval().loss(x)[1]["temperature"] == 0.0  # evaluation uses the final temperature
    warm = _model(1.0).train()
    loss, _ = warm.loss(x)
    loss.backward()
    assert warm.codebook.weight.grad.abs().sum() > 0 and warm.encoder[0].weight.grad.abs().sum() > 0
    assert warm.discrete is False and _model(0.0).discrete is True


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="temperature must be >= 0, got -1"):
        GMMVQVAE(temperature=-1.0)
    with pytest.raises(ValueError, match="anneal_steps"):
        GMMVQVAE(anneal_steps=-2)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        _model(1.0).soft_latent(torch.rand(1, 3, 64, 64), -0.5)


def _episode(n: int = 9) -> Episode:
    frames = np.random.default_rng(0).integers(0, 255, (n + 1, 64, 64, 3), dtype=np.uint8)
    return Episode(frames, np.arange(n) % 3, np.ones(n, np.float32), np.eye(n, dtype=bool)[n - 1], np.zeros(n, bool))


@pytest.mark.parametrize("temperature", [0.0, 0.3])
def test_checkpoint_and_memory_model_on_the_mixture_latent(tmp_path, temperature):
    frames = _episode().frames
    model = GMMVQVAE(codebook_size=5, code_dim=2, channels=2, temperature=temperature)
    train_vision(model, frames, frames[:3], epochs=1, batch_size=4, folder=tmp_path, show_progress=False)
    loaded, meta = checkpoint.load_vision(tmp_path)
    assert isinstance(loaded, GMMVQVAE) and meta["config"] == model.config and meta["config"]["kind"] == "gmmvq"
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), model.encode(x)) and torch.equal(loaded(x), model(x))
    (enc,) = encode_episodes(loaded, [_episode()], spaces.Discrete(3))
    assert enc.z.shape == (10, 32)
    assert (enc.codes is not None) == (temperature == 0)  # codes for M's categorical head only when discrete
    codes = {"positions": 16, "codebook_size": 5} if loaded.discrete else {}
    memory = MDNRNN(32, 3, hidden=8, **codes)
    out = memory(enc.z[None, :-1], enc.actions[None], codes=None if enc.codes is None else enc.codes[None, :-1])
    target = enc.codes[1:] if enc.codes is not None else enc.z[1:]
    assert torch.isfinite(memory.loss(out, target[None], enc.rewards[None], enc.dones[None])[0])


def test_world_model_agent_runs_on_the_mixture_latent(tmp_path):
    env = gym.make("repgym/KeyToDoor-v0", obs_mode="pixels", delay=2)
    vision = GMMVQVAE(codebook_size=5, code_dim=2, channels=2, temperature=0.3).eval()
    memory = MDNRNN(vision.latent_dim, 4, hidden=8).eval()
    starts = np.zeros((2, vision.latent_dim), np.float32)
    agent = WorldModelAgent.from_world(env, vision, memory, starts, 10, popsize=4)
    assert agent.config.vision == "gmmvq" and agent.config.vision_config == vision.config
    obs, _ = env.reset(seed=0)
    action, state = agent.predict(obs)
    agent.save(tmp_path / "agent")
    loaded = load_agent(tmp_path / "agent")
    assert isinstance(loaded.vision, GMMVQVAE) and loaded.vision.temperature == 0.3
    again, state2 = loaded.predict(obs)
    assert again == action
    np.testing.assert_array_equal(state2[0], state[0])
    with pytest.raises(ValueError, match="vision_config is for a 'gmmvq' model, but vision is 'vae'"):
        WorldModelAgent(env, vision="vae", vision_config=vision.config)


def test_cli_trains_the_mixture_latent_and_m_on_it(tmp_path, capsys):
    run = str(tmp_path / "run")
    base = ["--run", run, "--no-progress"]
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    assert main(["world", "collect", *env, "--episodes", "3", "--max-steps", "8", *base]) == 0
    vae = ["world", "train-vae", "--epochs", "1", "--channels", "2", "--codebook-size", "6", "--code-dim", "2"]
    assert main([*vae, "--model", "gmmvq", "--temperature", "0.25", "--temperature-start", "1", *base]) == 0
    assert "gmmvq: validation reconstruction MSE" in capsys.readouterr().out
    loaded, _ = checkpoint.load_vision(tmp_path / "run" / "vision")
    assert (loaded.kind, loaded.temperature, loaded.temperature_start, loaded.codebook_size) == ("gmmvq", 0.25, 1, 6)
    assert main(["world", "train-rnn", "--epochs", "1", "--hidden", "8", *base]) == 0
    assert "persistence baseline" in capsys.readouterr().out
    assert main([*vae, "--model", "gmmvq", "--temperature", "-1", "--out", str(tmp_path / "bad"), *base]) == 2
    assert "temperature must be >= 0, got -1" in capsys.readouterr().err


def test_soft_training_keeps_the_codes_apart_on_two_kinds_of_frames():
    """At a temperature where the responsibilities start near uniform, nearest-code updates must not pull every
    code to one point (the soft M-step did: z became constant); the two kinds of frames keep distinct latents."""
    model = GMMVQVAE(codebook_size=8, code_dim=3, channels=4, temperature=1.0).train()
    dark, light = torch.zeros(8, 3, 64, 64), torch.ones(8, 3, 64, 64)
    light[:, :, 16:48, 16:48] = 0.2
    batch = torch.cat([dark, light])
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss, parts = model.loss(batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        z_dark, z_light = model.soft_latent(dark[:1]), model.soft_latent(light[:1])
        codes = model._nearest(model.encoder(batch))  # (16, positions)
    assert parts["entropy"] < np.log(8) - 0.05  # the weights left uniform
    assert not torch.equal(codes[0], codes[8])  # the two kinds of frames pick different codes somewhere
    assert (z_dark - z_light).norm() > 0.1


# --- the temperature measured against the codes' spread (temperature_unit="codes") ---


def _pair_distance(book: torch.Tensor) -> float:
    """Mean squared distance over the distinct pairs, by brute force."""
    d = (book[:, None] - book[None]).detach().pow(2).sum(-1)
    k = book.shape[0]
    return float(d.sum() / (k * (k - 1)))


@pytest.mark.parametrize("spherical", [True, False])
def test_code_distance_is_the_mean_squared_distance_between_distinct_codes(spherical):
    model = _model(0.3, spherical=spherical, temperature_unit="codes")
    expected = _pair_distance(model.book().double())
    assert model.code_distance() == pytest.approx(expected, rel=1e-9)
    assert model.temperature_scale().item() == pytest.approx(expected, rel=1e-6)
    assert _model(0.3, spherical=spherical).temperature_scale().item() == 1.0  # absolute: one unit is 1
    with torch.no_grad():
        model.codebook.weight.copy_(torch.eye(7, 3)[[0, 0, 0, 0, 1, 1, 1]])  # two points, unit apart by sqrt(2)
    assert model.code_distance() == pytest.approx(2.0 * (2 * 4 * 3) / (7 * 6))
    with torch.no_grad():
        model.codebook.weight.fill_(0.5)  # every code in one point: the scale floors instead of dividing by 0
    assert model.code_distance() == 0.0 and model.temperature_scale().item() == pytest.approx(1e-12)
    w = model.assignments(torch.randn(2, 3, 4, 4), 0.3)
    assert torch.isfinite(w).all()


@pytest.mark.parametrize("factor", [0.05, 3.0])
def test_scaling_codes_and_outputs_leaves_relative_weights_unchanged(factor):
    """Distances scale by factor^2, and so does the codes' mean distance: the weights in the codes unit stay put,
    the weights at an absolute temperature sharpen (factor > 1) or flatten (factor < 1)."""
    z_e = torch.randn(3, 3, 4, 4)
    weights = {}
    for unit in ("codes", "absolute"):
        torch.manual_seed(5)
        model = _model(0.3, spherical=False, temperature_unit=unit)
        with torch.no_grad():
            before = model.assignments(z_e, 0.3)
            model.codebook.weight.mul_(factor)
            after = model.assignments(z_e * factor, 0.3)
        weights[unit] = (before, after)
        assert torch.equal(model._nearest(z_e * factor), before.argmax(-1).view(3, 16))  # nearest codes unchanged
    torch.testing.assert_close(weights["codes"][1], weights["codes"][0], atol=1e-5, rtol=1e-4)
    before, after = weights["absolute"]
    assert (after - before).abs().max() > 0.05

    def entropy(w: torch.Tensor) -> float:
        return float(-(w * w.clamp(min=1e-12).log()).sum(-1).mean())

    assert (entropy(after) < entropy(before)) == (factor > 1)


def test_relative_temperature_is_the_absolute_one_times_the_code_distance():
    rel = _model(0.3, temperature_unit="codes")
    ab = _model(0.3)
    ab.load_state_dict(rel.state_dict())
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        e = rel.encoder(x)
        torch.testing.assert_close(rel.assignments(e, 0.3), ab.assignments(e, 0.3 * rel.code_distance()))
        assert not torch.allclose(rel.assignments(e, 0.3), ab.assignments(e, 0.3))


@pytest.mark.parametrize("seed", [0, 1])
def test_relative_temperature_zero_is_exactly_nearest_code_vq(seed):
    torch.manual_seed(seed)
    model = _model(0.0, temperature_unit="codes")
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        expected = _nearest_code_latent(model, x)
        assert torch.equal(model.encode(x), expected) and model.discrete
        assert torch.equal(model.soft_latent(x, 1e-9), expected)
        w = model.assignments(model.encoder(x), 0.0)
    assert torch.equal(w.argmax(-1), model.codes(x)) and torch.equal(w.sum(-1), torch.ones(4, 16))
    loss, parts = model.train().loss(x)  # the straight-through VQ path; the code distance is logged
    assert parts["temperature"] == 0.0 and parts["code_distance"] == pytest.approx(model.code_distance())


def test_relative_unit_survives_save_load_and_old_configs_load_absolute(tmp_path):
    frames = _episode().frames
    model = GMMVQVAE(codebook_size=5, code_dim=2, channels=2, temperature=0.3, temperature_unit="codes")
    train_vision(model, frames, frames[:3], epochs=1, batch_size=4, folder=tmp_path, show_progress=False)
    loaded, meta = checkpoint.load_vision(tmp_path)
    assert meta["config"]["temperature_unit"] == "codes" and loaded.temperature_unit == "codes"
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), model.encode(x))
    old = {k: v for k, v in model.config.items() if k != "temperature_unit"}  # a checkpoint from before the option
    built = checkpoint.build_vision(old)
    assert built.temperature_unit == "absolute" and built.config == old  # and it resumes: the config is unchanged
    with pytest.raises(ValueError, match="temperature_unit must be one of"):
        GMMVQVAE(temperature_unit="relative")


@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("world_vision_compare")


def test_benchmark_backfills_code_distances_of_finished_models(bench, tmp_path):
    frames = _episode().frames
    model = GMMVQVAE(codebook_size=5, code_dim=2, channels=2, temperature=0.3)
    train_vision(model, frames, None, epochs=1, batch_size=4, folder=tmp_path / "models" / "gmmvq-0.3" / "vision",
                 show_progress=False)  # fmt: skip
    results = {"models": {"vae": {}, "gmmvq:0.3": {"codes": {"codes_used": 3, "codebook_size": 5}},
                          "gmmvq:0.1": {"codes": {"codes_used": 3, "codebook_size": 5}}}}  # fmt: skip
    assert bench.backfill_code_stats(results, tmp_path, frames)
    stats = results["models"]["gmmvq:0.3"]["codes"]
    assert stats["code_distance"] == pytest.approx(model.code_distance())
    assert 0 <= stats["entropy"] <= stats["max_entropy"] and not stats["used_code_distance"] < 0  # NaN: < 2 used
    assert "code_distance" not in results["models"]["gmmvq:0.1"]["codes"]  # no checkpoint: left as it was
    assert not bench.backfill_code_stats(results, tmp_path, frames)  # nothing left to add
    assert "d² " in bench._codes(stats)


def test_cli_and_benchmark_spec_take_the_relative_unit(bench, tmp_path):
    s = bench.parse_model("gmmvq:0.3r")
    assert (s.temperature, s.temperature_start, s.temperature_unit, s.folder) == (0.3, None, "codes", "gmmvq-0.3r")
    s = bench.parse_model("gmmvq:0.5r>0.05r")
    assert (s.temperature, s.temperature_start, s.temperature_unit) == (0.05, 0.5, "codes")
    assert bench.parse_model("gmmvq:0.5>0.05").temperature_unit == "absolute"
    for bad in ("gmmvq:0.5>0.05r", "gmmvq:r", "gmmvq:1>2>3"):
        with pytest.raises(ValueError, match="bad model spec"):
            bench.parse_model(bad)
    assert float(mean_squared_distance(torch.eye(3))) == pytest.approx(2.0)  # what the benchmark reports
    assert torch.isnan(mean_squared_distance(torch.ones(1, 3)))

    run = str(tmp_path / "run")
    base = ["--run", run, "--no-progress"]
    env = ["repgym/KeyToDoor-v0", "--set", "obs_mode=pixels", "--set", "delay=2"]
    assert main(["world", "collect", *env, "--episodes", "2", "--max-steps", "5", *base]) == 0
    vae = ["world", "train-vae", "--epochs", "1", "--channels", "2", "--codebook-size", "6", "--code-dim", "2"]
    assert main([*vae, "--model", "gmmvq", "--temperature", "0.3", "--temperature-unit", "codes", *base]) == 0
    loaded, _ = checkpoint.load_vision(tmp_path / "run" / "vision")
    assert (loaded.temperature, loaded.temperature_unit) == (0.3, "codes")
