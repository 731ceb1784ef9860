"""How fast this machine's cores are, against the machine the CPU budgets are stated for.

A CPU-second is a unit of time, not of work. A slower core needs more of them for the same work: the
same solution of lesson 07 used 58.5 CPU-seconds on one machine of this kind and 114 on another, both
quiet. And so does a core that shares its caches and memory bandwidth (or, in a virtual machine, its
physical core) with other busy processes: the same notebook took about 40% more CPU-seconds here while
a test suite ran beside it. So the budgets in check.py are in *reference* CPU-seconds, and the harness
scales them by this machine's slowdown *in the same conditions*: a fixed single-threaded workload
(Python, as a kernel runs it), run in a fresh interpreter just before and just after the solution is
graded, timed by its own CPU time, the median against REFERENCE_S. It is Python, a rough proxy for the
JVM's work: check.py never scales a budget below its stated figure, and fails a lesson only well past it.

``python -m grader.harness.speed`` prints this machine's figures now.
"""

import os
import statistics
import subprocess
import sys

# Dictionary updates, integer arithmetic and string building: the interpreter's everyday work.
WORKLOAD = """
counts = {}
for i in range(3_000_000):
    key = i % 1009
    counts[key] = counts.get(key, 0) + (i * 7) // 3
text = ",".join(str(v) for v in counts.values())
"""
RUNS = 5  # for main(); the harness takes three before the solution's grading and two after

# The workload's CPU time on the reference machine, where the budgets were set. Set on 2026-12-02 from
# two machines of this kind: lesson 07's solution used 58.5 CPU-s on the one its budget was set on and
# 114 on the other (1.95x, both quiet); this workload took 1.96 s (median of five, twice) on the second,
# so 1.96 / 1.95 on the first.
REFERENCE_S = 1.00


def _run_once():
    """CPU seconds (user + system) of one run of the workload in a fresh interpreter."""
    proc = subprocess.Popen([sys.executable, "-S", "-c", WORKLOAD], env={"PATH": os.environ.get("PATH", "")})
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"the speed workload failed (exit {proc.returncode})")
    return usage.ru_utime + usage.ru_stime


def sample(runs):
    """CPU seconds of ``runs`` runs of the workload, one after another."""
    return [_run_once() for _ in range(runs)]


def slowdown(times):
    """This machine's core against the reference one, from samples: 2.0 means a budget here is twice the stated one."""
    return statistics.median(times) / REFERENCE_S


def main():
    times = sorted(sample(RUNS))
    print(f"workload CPU s: {', '.join(f'{t:.2f}' for t in times)}; median {statistics.median(times):.2f}; "
          f"reference {REFERENCE_S:.2f}; slowdown {slowdown(times):.2f}")


if __name__ == "__main__":
    main()
