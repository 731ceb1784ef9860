"""Before grading: what cannot be graded at all gets a zero with a reason (a courtesy, not a guard).

Not a notebook, another lesson's notebook, a file too big, nothing of the lesson's cells. No
grade rests on this: whatever passes runs in the sandbox and is scored by the checker, so a
submission that slips past the preflight earns only what its recorded answers earn.
"""

import nbformat

MAX_NOTEBOOK_BYTES = 20 * 2**20


def lesson_cells(released_notebook):
    """The sources of the released notebook's cells the student does not write."""
    released = nbformat.read(released_notebook, as_version=4)
    return {c.source for c in released.cells if not c.metadata.get("nbgrader", {}).get("solution")}


def preflight(notebook_path, lesson, given_sources, other_lessons):
    """A reason why this file cannot be graded, or None.

    ``given_sources``: this lesson's given cells (lesson_cells); ``other_lessons``: {lesson: its given cells}.
    """
    if not notebook_path.is_file() or notebook_path.is_symlink():
        found = ", ".join(sorted(p.name for p in notebook_path.parent.iterdir())) or "nothing"
        return f"no {notebook_path.name} in the submission (found: {found})"
    if notebook_path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return f"the notebook is {notebook_path.stat().st_size / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB limit"
    try:
        nb = nbformat.read(notebook_path, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # any parse or schema failure means: not a notebook we can grade
        first = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        return f"not a valid Jupyter notebook ({first})"
    sources = {c.source for c in nb.cells}
    matches = len(sources & given_sources)
    best = max(other_lessons, key=lambda other: len(sources & other_lessons[other]), default=None)
    if best is not None and len(sources & other_lessons[best]) > matches:
        return f"this is the notebook of {best}, not of {lesson}"
    if matches == 0:
        return f"none of {lesson}'s cells are in this notebook (was it started from the course's copy?)"
    return None
