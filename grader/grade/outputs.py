"""What of a graded notebook's outputs is kept: an allow-list of kinds, and a budget in bytes.

Everything a submission's kernel prints is the student's to choose, and it ends up in a feedback
page and in the instructors' formgrader. So only inert kinds are kept (text, PNG and JPEG images,
errors as text); HTML, JavaScript, SVG, Markdown and widget states, which a browser would run or
render, are dropped (their plain-text form stays). Each cell keeps at most CELL_BYTES, the whole
notebook at most NOTEBOOK_BYTES; what is cut says so. Test cells' outputs are never the kernel's:
the checker writes them (grader/grade/execute.py).
"""

import json

from nbformat.v4 import new_output

KEPT = ("text/plain", "image/png", "image/jpeg")
CELL_BYTES = 256 * 1024
NOTEBOOK_BYTES = 8 * 2**20


def size(output):
    """Bytes an output takes, cheaply (a 300 MB print arrives as many messages: no JSON encoding of each)."""
    if output.get("output_type") == "stream":
        return len(output.get("text", ""))
    data = output.get("data") or {}
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values()) + 64


class OutputBudget:
    """Counts what the kernel sends, per cell and in all; ``allow`` says whether one more output fits."""

    def __init__(self, cell_bytes=CELL_BYTES, notebook_bytes=NOTEBOOK_BYTES):
        self.cell_bytes, self.notebook_bytes = cell_bytes, notebook_bytes
        self.per_cell, self.total, self.cut = {}, 0, set()

    def full(self, cell_index):
        """True once this cell (or the notebook) has used its budget: what else it sends is dropped unread."""
        return cell_index in self.cut

    def allow(self, cell_index, output):
        n = size(output)
        used = self.per_cell.get(cell_index, 0)
        if used + n > self.cell_bytes or self.total + n > self.notebook_bytes:
            self.cut.add(cell_index)
            return False
        self.per_cell[cell_index] = used + n
        self.total += n
        return True


def clean(output):
    """An output reduced to its allowed kinds, or None if nothing of it may be kept."""
    kind = output.get("output_type")
    if kind == "stream":
        return new_output("stream", name="stdout" if output.get("name") != "stderr" else "stderr",
                          text=str(output.get("text", "")))
    if kind == "error":
        return new_output("error", ename=str(output.get("ename", "")), evalue=str(output.get("evalue", "")),
                          traceback=[str(line) for line in output.get("traceback", [])][:200])
    if kind in ("display_data", "execute_result"):
        data = {k: v for k, v in (output.get("data") or {}).items() if k in KEPT and isinstance(v, str)}
        if not data:
            return None
        if kind == "execute_result":
            return new_output("execute_result", data=data, execution_count=output.get("execution_count"))
        return new_output("display_data", data=data)
    return None


def clean_cell(cell, cut=False):
    """Keep a cell's allowed outputs; say so if the budget cut some."""
    kept = [o for o in (clean(o) for o in cell.get("outputs", [])) if o is not None]
    if cut:
        kept.append(new_output("stream", name="stdout",
                               text=f"\n[output cut: the grader keeps {CELL_BYTES // 1024} KB per cell and "
                                    f"{NOTEBOOK_BYTES // 2**20} MB per notebook]\n"))
    cell["outputs"] = kept
    for key in ("attachments",):
        cell.pop(key, None)
    return cell
