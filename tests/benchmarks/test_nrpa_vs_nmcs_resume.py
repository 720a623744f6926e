"""benchmarks/nrpa_vs_nmcs.py: a stopped run resumes from its JSON, and other settings are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BOARDS = """\
12312
23123
31231
12312

11223
31223
33112
21131
"""


def test_a_run_resumes_from_its_json_and_refuses_other_settings(benchmark_script, tmp_path: Path, capsys) -> None:
    bench = benchmark_script("nrpa_vs_nmcs")
    board_file = tmp_path / "boards.txt"
    board_file.write_text(BOARDS)
    out = tmp_path / "run.json"
    base = ["--board-file", str(board_file), "--time", "0.05", "--level", "1", "--nmcs-level", "1", "--json", str(out)]
    bench.main([*base, "--boards", "0"])  # as if stopped after the first board
    first = json.loads(out.read_text())
    assert [b["board"] for b in first["boards"]] == [0] and first["all_verified"]

    capsys.readouterr()
    bench.main(base)
    printed = capsys.readouterr().out
    assert "board 0: done earlier, kept" in printed
    record = json.loads(out.read_text())
    assert [b["board"] for b in record["boards"]] == [0, 1]
    assert record["boards"][0] == first["boards"][0]  # kept as it was, not played again
    assert record["totals"]["nrpa"] == sum(b["nrpa"]["score"] for b in record["boards"])
    assert record["ratio"] == pytest.approx(record["totals"]["nrpa"] / record["totals"]["nmcs"])

    with pytest.raises(SystemExit, match="other settings \\(time_s\\)"):
        bench.main([*base[:3], "0.1", *base[4:]])
    nmcs_only = tmp_path / "nmcs.json"
    bench.main([*base[:-1], str(nmcs_only), "--no-nrpa"])
    assert set(json.loads(nmcs_only.read_text())["totals"]) == {"nmcs"}
    with pytest.raises(SystemExit):
        bench.main([*base, "--no-nrpa", "--no-nmcs"])


def test_top_iterations_are_part_of_the_protocol(benchmark_script, tmp_path: Path) -> None:
    bench = benchmark_script("nrpa_vs_nmcs")
    board_file = tmp_path / "boards.txt"
    board_file.write_text(BOARDS)
    out = tmp_path / "run.json"
    base = ["--board-file", str(board_file), "--time", "0.05", "--level", "2", "--no-nmcs", "--json", str(out)]
    bench.main([*base, "--boards", "0", "--top-iterations", "2"])
    record = json.loads(out.read_text())
    assert record["protocol"]["methods"]["nrpa"]["top_iterations"] == 2 and record["all_verified"]
    with pytest.raises(SystemExit, match="other settings \\(methods\\)"):
        bench.main(base)  # the default top level is another setting: refused, not mixed into one table


def test_single_method_runs_merge_into_one_table(benchmark_script, tmp_path: Path, capsys) -> None:
    bench = benchmark_script("nrpa_vs_nmcs")
    board_file = tmp_path / "boards.txt"
    board_file.write_text(BOARDS)
    base = ["--board-file", str(board_file), "--time", "0.05", "--level", "1", "--nmcs-level", "1"]
    nrpa, nmcs = tmp_path / "nrpa.json", tmp_path / "nmcs.json"
    bench.main([*base, "--no-nmcs", "--json", str(nrpa)])
    bench.main([*base, "--no-nrpa", "--boards", "1", "--json", str(nmcs)])  # NMCS finished board 1 only
    capsys.readouterr()
    bench.main(["--merge", str(nrpa), str(nmcs)])
    printed = capsys.readouterr().out
    nrpa_1 = json.loads(nrpa.read_text())["boards"][1]["nrpa"]["score"]
    nmcs_1 = json.loads(nmcs.read_text())["boards"][0]["nmcs"]["score"]
    assert "1 board(s) left out: not finished by every method" in printed
    assert f"{nrpa_1 / nmcs_1:.3f}" in printed  # the ratio of the one board both finished
    assert "playouts/s" in printed

    with pytest.raises(SystemExit, match="nrpa is in more than one file"):
        bench.main(["--merge", str(nrpa), str(nrpa)])
    slower = tmp_path / "slower.json"
    bench.main([*base[:3], "0.1", *base[4:], "--no-nrpa", "--boards", "0", "--json", str(slower)])
    with pytest.raises(SystemExit, match="differs from .* in time_s"):
        bench.main(["--merge", str(nrpa), str(slower)])
    with pytest.raises(SystemExit, match="no such file"):
        bench.main(["--merge", str(tmp_path / "missing.json")])
