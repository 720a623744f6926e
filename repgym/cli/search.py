"""``repgym solve``: look-ahead search (NMCS, NRPA, beam, SP-MCTS, learned value) on Bubble Breaker / SameGame
boards."""

from __future__ import annotations

import argparse

from repgym.cli.common import Handler, add_command, add_threads, set_torch_threads

EPILOG_SOLVE = """\
moves are printed as row,col with row 0 the top row and col 0 the leftmost column (action = row * cols + col);
every score is verified by replaying the moves in the env (repgym/SameGame-v0 or repgym/BubbleBreaker-v0 rules).

examples:
  repgym boards write --set samegame-15x15 --out samegame_15x15.txt
  repgym solve samegame_15x15.txt --problem 0 --search nmcs --level 2 --time 30
  repgym solve samegame_15x15.txt --search nmcs --level 0 --playout greedy --time 0    the greedy policy
  repgym solve samegame_15x15.txt --search nrpa --level 3 --top-iterations 10 --time 60 --workers 2
  repgym solve samegame_15x15.txt --search mcts --time 10 --out mcts.json
  repgym solve samegame_15x15.txt --search beam --value runs/lookahead-samegame --time 10
  repgym solve boards.txt --scoring bubble --search lookahead --value runs/lookahead-bubble
"""


def register(sub) -> dict[str, Handler]:
    p_solve = add_command(
        sub,
        "solve",
        "search Bubble Breaker / SameGame positions from a board file and verify the scores by replay",
        "Search each board of a text file (or one, --problem) with NMCS, NRPA, beam search, SP-MCTS or the "
        "one-step look-ahead on a learned value, print the move sequences and a per-board table with the total.",
        EPILOG_SOLVE,
    )
    p_solve.add_argument("board_file", help="text file of boards (see repgym.envs.bubble.boards)")
    p_solve.add_argument("--problem", type=int, default=None, metavar="K", help="only board K, counted from 0")
    p_solve.add_argument("--scoring", choices=["samegame", "bubble"], default="samegame", help="default: samegame")
    p_solve.add_argument("--search", choices=["nmcs", "nrpa", "beam", "mcts", "lookahead"], default="nmcs",
                         help="search method (default: nmcs)")  # fmt: skip
    p_solve.add_argument("--time", type=float, default=10.0, metavar="SECONDS",
                         help="budget per board; 0: no budget, one pass (default: 10)")  # fmt: skip
    p_solve.add_argument("--value", default=None, metavar="CHECKPOINT", help="a saved lookahead agent (value network)")
    p_solve.add_argument("--level", type=int, default=None,
                         help="nmcs: nesting level, 0 = one playout (default 1); nrpa: >= 1 (default 2)")  # fmt: skip
    p_solve.add_argument("--iterations", type=int, default=None, metavar="N",
                         help="nrpa: iterations per level (default: 100)")  # fmt: skip
    p_solve.add_argument("--top-iterations", type=int, default=None, metavar="N",
                         help="nrpa: iterations of the top level alone (default: --iterations)")  # fmt: skip
    p_solve.add_argument("--alpha", type=float, default=None, help="nrpa: adaptation step (default: 1)")
    p_solve.add_argument("--workers", type=int, default=None, metavar="N",
                         help="nrpa: N processes; from level 3 they share the top level (each of its iterations "
                              "runs N searches of the level below from one policy), below it N independent "
                              "searches, best kept (default: 1)")  # fmt: skip
    p_solve.add_argument("--playout", default=None, help="nmcs, mcts: uniform, size-weighted, tabu-colour, value, ...")
    p_solve.add_argument("--prune", type=int, default=None, metavar="K",
                         help="nmcs: at levels >= 2 search only the K best moves by r + V (needs --value)")  # fmt: skip
    p_solve.add_argument("--width", type=int, default=None, help="beam: width of the first pass (default: 16)")
    p_solve.add_argument("--evaluator", default=None, help="beam: 'value' or a playout policy (default: value if "
                         "--value is given, else tabu-colour)")  # fmt: skip
    p_solve.add_argument("--leaf", choices=["playout", "value"], default=None, help="mcts: leaf evaluation")
    p_solve.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p_solve.add_argument("--engine", choices=["auto", "numba", "numpy"], default="auto", help="playout engine")
    p_solve.add_argument("--out", default=None, metavar="JSON", help="also write the results to this JSON file")
    add_threads(p_solve)
    return {"solve": _cmd_solve}


def _cmd_solve(args: argparse.Namespace) -> int:
    from repgym.agents.lookahead import load_value, solve_file

    if args.time < 0:
        raise ValueError(f"--time is seconds per board (0: one pass without a budget), got {args.time}")
    set_torch_threads(args.threads)
    value = load_value(args.value) if args.value else None
    names = ("level", "playout", "prune", "width", "evaluator", "leaf", "iterations", "top_iterations", "alpha",
             "workers")  # fmt: skip
    options = {name: getattr(args, name) for name in names}
    solved = solve_file(args.board_file, problem=args.problem, scoring=args.scoring, search=args.search,
                        time_s=args.time if args.time > 0 else None, value=value, seed=args.seed, engine=args.engine,
                        out=args.out,
                        **{k: v for k, v in options.items() if v is not None})  # fmt: skip
    return 0 if all(s.verified for s in solved) else 1
