"""`make bench` (grader.bench.performance) runs with real Spark on a tiny size and writes its table and plot.

No timing is asserted: on a tiny size the figures are noise; only that every measurement ran and was written.
"""

import subprocess
import sys

from grader.bench import performance as bench_performance
from grader.course import ROOT
from sparkcourse.performance import LADDER


def test_bench_performance_writes_its_table_and_plot(spark, tmp_path, capsys):
    code = bench_performance.main(["--rows", "2000", "--transfer-rows", "200", "--repeats", "1", "--warmup", "0",
                                   "--out", str(tmp_path)])
    assert code == 0
    table = (tmp_path / "performance.md").read_text()
    for title in ("The UDF ladder", "Arrow on and off", "groupBy-sum", "Skew", "Joining"):
        assert f"\n## {title}" in table, f"no section {title!r} in performance.md"
    for method in LADDER:
        assert f"| {method} |" in table, f"the ladder misses {method!r}"
    assert "| median_s | min_s | max_s | runs |" in table, "every figure should be a median with its min and max"
    assert (tmp_path / "performance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "pandas UDF / built-in:" in printed and "largest task's share, by key:" in printed
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4", "the benchmark should put the session back"


def test_bench_performance_has_help():
    result = subprocess.run([sys.executable, "-m", "grader.bench.performance", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--rows" in result.stdout and "--repeats" in result.stdout
