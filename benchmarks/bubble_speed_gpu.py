"""Bubble Breaker batch stepping on a GPU: the torch rules against the compiled (numba) CPU kernels.

Both engines play the same batch of ``repgym/BubbleBreaker-v0`` games (14x10, 5 colours by default) with uniformly
random legal clicks. A timed *board-step* is one move on every board, the new boards' legal-move masks (what a
learner needs to choose the next click) and fresh random games for the boards that ended; choosing the clicks is
not timed. The torch path runs :mod:`repgym.envs.bubble.torch_rules` on the CUDA device when there is one (else
on the CPU); the numba path runs :mod:`repgym.envs.bubble.batch_kernels` (the native vector env's engine) on
``--numba-threads`` CPU threads. Each figure is the best of ``--repeats`` timed rounds::

    python benchmarks/bubble_speed_gpu.py                  # 2^16 .. 2^20 boards on CUDA; 2^10 .. 2^14 on CPU
    python benchmarks/bubble_speed_gpu.py --log2-boards 12 16 --steps 50
    python benchmarks/bubble_speed_gpu.py --quick          # a few seconds, for a smoke test
"""

from __future__ import annotations

import argparse
import platform
import time

import numba
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from repgym.envs.bubble import batch_kernels, rules
from repgym.envs.bubble import torch_rules as tr
from repgym.envs.bubble.rules import BubbleConfig


def device_name(device: torch.device) -> str:
    """The card's name, or the CPU's."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} torch thread(s))"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def torch_speed(config: BubbleConfig, n: int, steps: int, repeats: int, device: torch.device, seed: int) -> float:
    """Board-steps per second of :func:`torch_rules.step` + legal masks + resets of ended games, on ``device``."""
    gen = torch.Generator(device=device).manual_seed(seed)
    keys = torch.arange(n, dtype=torch.int64, device=device) * 7919 + seed
    state = tr.initial_state(keys, config)
    mask = tr.legal_mask(state.board, config).flatten(1)
    games = 0

    def one_step() -> float:
        nonlocal state, mask, games
        actions = (torch.rand(mask.shape, generator=gen, device=device) * mask).argmax(dim=1)
        sync(device)
        start = time.perf_counter()
        result = tr.step(state, actions, config, check=False)
        games += 1
        fresh = tr.initial_state(keys + games * n, config)  # new keys for the boards that ended
        ended = result.terminal
        state = tr.TorchState(*(torch.where(_rows(ended, a), f, a) for a, f in zip(result.state, fresh, strict=True)))
        mask = tr.legal_mask(state.board, config).flatten(1)
        sync(device)
        return time.perf_counter() - start

    for _ in range(2):  # warm-up (CUDA kernels, caches)
        one_step()
    best = min(sum(one_step() for _ in range(steps)) for _ in range(repeats))
    return steps * n / best


def _rows(flags: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return flags.reshape(-1, *[1] * (like.dim() - 1))


def numba_speed(config: BubbleConfig, n: int, steps: int, repeats: int, threads: int, seed: int) -> float:
    """Board-steps per second of the compiled kernels (move, masks and group statistics, resets of ended games)."""
    rng = np.random.default_rng(seed)
    state = rules.initial_state(rng.integers(0, 2**63, n, dtype=np.uint64), config)
    params = batch_kernels.batch_params(config)
    everyone = np.arange(n)
    mask = np.empty((n, config.n_cells), bool)
    stats = np.empty((3, n), np.int64)
    outputs = np.zeros(n), np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool)
    no_obs = np.zeros((0, 0, 0), np.uint8)
    batch_kernels.describe_boards(state.board, everyone, params, batch_kernels.OBS_NONE, no_obs, mask, *stats)
    if threads > 1:  # starting numba's thread pool for nothing slows torch's CPU threads down
        numba.set_num_threads(threads)

    def one_step() -> float:
        actions = (rng.random(mask.shape, dtype=np.float32) * mask).argmax(axis=1)
        start = time.perf_counter()
        batch_kernels.step_boards(state, actions, everyone, params, 0.0, *outputs, threads=threads)
        ended = np.flatnonzero(outputs[3])
        fresh = rules.initial_state(rng.integers(0, 2**63, ended.size, dtype=np.uint64), config)
        for field, values in zip(state, fresh, strict=True):
            field[ended] = values
        batch_kernels.describe_boards(
            state.board, everyone, params, batch_kernels.OBS_NONE, no_obs, mask, *stats, threads=threads
        )
        return time.perf_counter() - start

    one_step()
    best = min(sum(one_step() for _ in range(steps)) for _ in range(repeats))
    return steps * n / best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log2-boards", type=int, nargs="+", default=None, help="batch sizes as powers of two")
    parser.add_argument("--steps", type=int, default=None, help="batched steps per timed round (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per figure; the best is reported")
    parser.add_argument("--rows", type=int, default=14)
    parser.add_argument("--cols", type=int, default=10)
    parser.add_argument("--colours", type=int, default=5)
    parser.add_argument("--numba-threads", type=int, default=1, help="CPU threads of the numba path")
    parser.add_argument("--torch-threads", type=int, default=1, help="CPU threads of torch when there is no GPU")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small run: 2^8 and 2^10 boards, 3 steps, 1 round")
    args = parser.parse_args(argv)

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.set_num_threads(args.torch_threads)
    default_sizes = [16, 17, 18, 19, 20] if device.type == "cuda" else [10, 12, 14]
    sizes = args.log2_boards or ([8, 10] if args.quick else default_sizes)
    steps = args.steps or (3 if args.quick else 20)
    repeats = 1 if args.quick else args.repeats
    config = BubbleConfig(rows=args.rows, cols=args.cols, colours=args.colours)

    console = Console(width=120)
    console.print(
        f"Bubble Breaker {config.rows}x{config.cols}, {config.colours} colours: a board-step is a move, the new legal "
        f"masks and resets of ended games; best of {repeats} round(s) of {steps} batched steps"
    )
    table = Table(title=f"board-steps per second: torch on {device_name(device)} vs numba on the CPU")
    for column in ("boards", "torch", f"numba ({args.numba_threads} thread(s))", "torch / numba"):
        table.add_column(column, justify="right")
    for log2 in sizes:
        n = 2**log2
        fast = torch_speed(config, n, steps, repeats, device, args.seed)
        cpu = numba_speed(config, n, steps, repeats, args.numba_threads, args.seed)
        table.add_row(f"2^{log2} = {n:,}", f"{fast:,.0f}", f"{cpu:,.0f}", f"{fast / cpu:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
