"""Convert a lesson's nbgrader source notebook to a plain-text script and back, for editing and review.

The notebook in solutions/ stays the one source of truth: ``to-script`` prints it as a
percent-format script, you edit that, and ``to-notebook`` writes it back. Cell headers say what
nbgrader makes of a cell:

    # %%                                  ordinary code
    # %% [markdown]                       text (each line starts with "# ")
    # %% solution id=ex1-answer           the student writes this (### BEGIN/END SOLUTION inside)
    # %% test id=ex1-test points=2        autograded test (### BEGIN/END HIDDEN TESTS inside)
    # %% [markdown] answer id=q1 points=2 a manually graded written answer
    # %% readonly id=setup                locked: students cannot edit it
"""

import argparse
import hashlib
import re
import sys
from pathlib import Path

import nbformat

KINDS = {  # header word -> nbgrader flags
    "solution": dict(grade=False, solution=True, locked=False),
    "test": dict(grade=True, solution=False, locked=True),
    "answer": dict(grade=True, solution=True, locked=False),
    "readonly": dict(grade=False, solution=False, locked=True),
}
HEADER = re.compile(r"^# %%(?P<markdown> \[markdown\])?(?P<rest>.*)$")


def _kind_of(meta):
    for word, flags in KINDS.items():
        if all(meta.get(k) == v for k, v in flags.items()):
            return word
    return None


def to_script(nb):
    """The notebook as percent-format text with short nbgrader headers."""
    parts = []
    for cell in nb.cells:
        header = "# %%" + (" [markdown]" if cell.cell_type == "markdown" else "")
        meta = cell.metadata.get("nbgrader")
        if meta:
            header += f" {_kind_of(meta)} id={meta['grade_id']}"
            if meta.get("grade"):
                header += f" points={meta['points']:g}"
        body = cell.source
        if cell.cell_type == "markdown":
            body = "\n".join(("# " + line).rstrip() for line in body.splitlines())
        parts.append(f"{header}\n{body}\n")
    return "\n".join(parts)


def to_notebook(text):
    """Parse the script format back into an nbgrader source notebook (no outputs)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    cells, current = [], None
    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            current = {"markdown": bool(match["markdown"]), "opts": match["rest"].split(), "lines": []}
            cells.append(current)
        elif current is not None:
            current["lines"].append(line)
    seen = set()
    for spec in cells:
        lines = spec["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        if spec["markdown"]:
            lines = [re.sub(r"^# ?", "", line) for line in lines]
            cell = nbformat.v4.new_markdown_cell("\n".join(lines))
        else:
            cell = nbformat.v4.new_code_cell("\n".join(lines))
        kind = next((o for o in spec["opts"] if o in KINDS), None)
        opts = dict(o.split("=", 1) for o in spec["opts"] if "=" in o)
        if kind:
            meta = dict(KINDS[kind], grade_id=opts["id"], schema_version=3, task=False)
            if meta["grade"]:
                meta["points"] = float(opts["points"]) if "." in opts["points"] else int(opts["points"])
            cell.metadata["nbgrader"] = meta
            cell.id = opts["id"]
        else:
            cell.id = hashlib.sha1(cell.source.encode()).hexdigest()[:8]
        while cell.id in seen:  # identical cells: keep ids unique and still deterministic
            cell.id = hashlib.sha1(cell.id.encode()).hexdigest()[:8]
        seen.add(cell.id)
        nb.cells.append(cell)
    return nb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("to-script", help="print a source notebook as a percent script")
    a.add_argument("notebook", type=Path)
    b = sub.add_parser("to-notebook", help="write a percent script as a source notebook")
    b.add_argument("script", type=Path)
    b.add_argument("notebook", type=Path)
    args = parser.parse_args(argv)
    if args.command == "to-script":
        sys.stdout.write(to_script(nbformat.read(args.notebook, as_version=4)))
    else:
        nb = to_notebook(args.script.read_text())
        args.notebook.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, args.notebook)
        print(f"wrote {args.notebook} ({len(nb.cells)} cells)")


if __name__ == "__main__":
    main()
