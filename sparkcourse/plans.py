"""The one plan helper: what Spark will run, as text to print or to search (classic and Spark Connect)."""

import contextlib
import io
import re

# Physical operators that hand rows to a Python worker: UDFs, pandas UDFs, mapInPandas, applyInPandas, ...
PYTHON_OPERATORS = re.compile(r"\b\w*(?:Python|InPandas|InArrow)\w*\b")


def plan_text(df, mode="simple"):
    """What ``df.explain(mode)`` prints, as a string (to search it, or print part of it)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        df.explain(mode)
    return out.getvalue()


def physical_plan_lines(df):
    """The physical plan's lines, without the initial plan that adaptive execution prints after the final one."""
    return plan_text(df).split("== Initial Plan ==")[0].splitlines()


def python_operators(df):
    """The names of the operators in ``df``'s physical plan that run Python (empty when it all stays in the JVM)."""
    return sorted({name for line in physical_plan_lines(df) for name in PYTHON_OPERATORS.findall(line)})


def broadcast_subtrees(df):
    """The part of the plan under each ``BroadcastExchange`` (what Spark copies to every task), one string each."""
    lines = physical_plan_lines(df)
    depth = [len(re.match(r"^[\s:|+\-]*", line).group(0)) for line in lines]
    subtrees = []
    for i, line in enumerate(lines):
        if "BroadcastExchange" in line:
            end = i + 1
            while end < len(lines) and lines[end].strip() and depth[end] > depth[i]:
                end += 1
            subtrees.append("\n".join(lines[i:end]))
    return subtrees
