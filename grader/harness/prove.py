"""Prove each exercise both ways, through the path grading takes: answers recorded in a kernel, judged by the checker.

A student kernel (local Spark on one core) runs the released notebook with the solution's answers.
At each exercise it first tries, one after the other, the unanswered stub, every recorded wrong
answer and every recorded right answer: each is run, then the exercise's visible test (which records
the answers as data and self-checks them), and the recorded data goes to the lesson's checker, the
same process grading uses. Proven: the stub and every wrong answer fail the checker; every right
answer and the solution pass it; the self-check agrees with the checker (a wrong answer it cannot
reject says why in its entry). Hidden tests never enter the kernel, as in grading.
"""

import json
import tempfile
from pathlib import Path

from jupyter_client.manager import KernelManager

from sparkcourse.answers import MIME

from ..course import tool_env
from .static import class_applies, exercises, nbgrader_meta

CELL_TIMEOUT_S = 300


class StudentKernel:
    """A plain kernel for trusted code (the course's own answers): runs code, returns errors and recorded answers."""

    def __init__(self, cwd, env=None):
        # IPC sockets in a private folder: no TCP port on the machine's loopback (nor jupyter_client's warning)
        self.folder = tempfile.TemporaryDirectory(prefix="student-kernel-")
        self.manager = KernelManager(kernel_name="python3", transport="ipc",
                                     connection_file=str(Path(self.folder.name) / "kernel.json"))
        self.manager.ip = str(Path(self.folder.name) / "k")
        self.manager.start_kernel(cwd=str(cwd), env=tool_env(SPARKCOURSE_RECORD="1", **(env or {})))
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=120)
        except RuntimeError:
            self.close()
            raise

    def run(self, code):
        """(error or None, printed text, recorded answers JSON or None)."""
        errors, printed, recorded = [], [], []

        def on_output(msg):
            content = msg["content"]
            if msg["msg_type"] == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")
            elif msg["msg_type"] == "stream":
                printed.append(content.get("text", ""))
            elif msg["msg_type"] == "display_data" and MIME in content.get("data", {}):
                recorded.append(content["data"][MIME]["answers"])

        reply = self.client.execute_interactive(code, timeout=CELL_TIMEOUT_S, output_hook=on_output)
        error = None
        if reply["content"]["status"] != "ok":
            error = errors[0] if errors else f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}"
        return error, "".join(printed), recorded[-1] if len(recorded) == 1 else None

    def close(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
        self.folder.cleanup()


def hidden_reasons(test_source):
    """The comments of a test cell's visible part: where the source says why answers are kept to hidden tests."""
    import io
    import tokenize

    from ..grade.checker import split_test

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(split_test(test_source)[0]).readline))
    except (tokenize.TokenError, SyntaxError):
        return ""
    found = [t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT]
    return " ".join(text for text in found if text and not text.startswith("noqa"))


def judge(checker, test, recorded, why_missing):
    """The checker's outcome for one test cell and one recorded answer."""
    item = {"grade_id": nbgrader_meta(test)["grade_id"], "source": test.source, "answers": recorded,
            "missing": why_missing}
    return checker.check([item])[0]


def prove_exercises(source, student, recorded_answers, checker, report, cwd, env=None, checks=None):
    """Run the released notebook's cells in a student kernel; at each exercise, try every recorded answer.

    ``checks``: the lesson's self-check file (exercises whose values are all kept to hidden tests
    cannot be rejected by a self-check, by design).
    """
    hidden_only = {exercise for exercise, entry in ((checks or {}).get("exercises") or {}).items()
                   if entry.get("answers") and all(a.get("hidden") for a in entry["answers"].values())}
    from ..grade.checker import split_test

    visible = {nbgrader_meta(c).get("grade_id"): split_test(c.source)[0] for c in student.cells if nbgrader_meta(c)}
    stubs = {nbgrader_meta(c).get("grade_id"): c.source for c in student.cells if nbgrader_meta(c)}
    groups = {nbgrader_meta(sol)["grade_id"]: (sol, tests) for sol, tests in exercises(source) if sol is not None}
    kernel = StudentKernel(cwd, env)

    def attempt(code, test):
        error, printed, data = kernel.run(code)
        test_error, test_printed, data = kernel.run(visible[nbgrader_meta(test)["grade_id"]])
        why = None if data else (test_error or "nothing recorded")
        outcome = judge(checker, test, data, why)
        self_passed = test_error is None and "self-check passed" in test_printed
        return outcome, self_passed, test_error

    try:
        for cell in source.cells:
            meta = nbgrader_meta(cell)
            if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
                continue  # tests run with their exercise, below
            grade_id = meta.get("grade_id")
            if grade_id not in groups:
                error, _, _ = kernel.run(cell.source)
                if error:
                    report.problem(f"cell {cell.id} fails in the student notebook: {error}")
                continue
            _, tests = groups[grade_id]
            entry = recorded_answers.get(grade_id, {"wrong": [], "right": [], "classes": {}})
            report.classes.update(entry["classes"])
            exercise = grade_id.removesuffix("-answer")
            answers = (((checks or {}).get("exercises") or {}).get(exercise) or {}).get("answers") or {}
            row = report.exercises.setdefault(exercise, {
                "checked": sorted(n for n, a in answers.items() if not a.get("hidden")),
                "hidden": sorted(n for n, a in answers.items() if a.get("hidden")),
                "why": " ".join(hidden_reasons(t.source) for t in tests).strip(),
                "wrong": 0, "rejected": 0, "self_rejected": 0, "right": 0, "accepted": 0,
                "applies": sorted(c for c, text in entry["classes"].items() if class_applies(text)),
                "classes_rejected": set()})
            for test in tests:
                test_id = nbgrader_meta(test)["grade_id"]
                outcome, _, _ = attempt(stubs.get(grade_id, ""), test)
                if outcome["passed"]:
                    report.problem(f"{test_id} passes on the unanswered notebook")
                for wrong in entry["wrong"]:
                    report.wrong_answers += 1
                    row["wrong"] += 1
                    outcome, self_passed, _ = attempt(wrong["code"], test)
                    if outcome["passed"]:
                        report.problem(f"{grade_id}: wrong answer accepted by the checker ({wrong['why']})")
                    else:
                        row["rejected"] += 1
                        if wrong.get("class"):
                            report.class_rejections[wrong["class"]] = report.class_rejections.get(wrong["class"], 0) + 1
                            row["classes_rejected"].add(wrong["class"])
                        report.rejections.setdefault(test_id, []).append(wrong["why"])
                        if test_id.removesuffix("-test") in hidden_only:
                            report.hidden_only.add(test_id)
                        elif self_passed and not wrong.get("self_check"):
                            report.problem(f"{grade_id}: the self-check accepts a wrong answer the hidden tests reject "
                                           f"({wrong['why']}): tighten it, or say why it cannot in `self_check:`")
                        elif not self_passed:
                            report.self_rejections += 1
                            row["self_rejected"] += 1
                for right in entry["right"]:
                    report.right_answers += 1
                    row["right"] += 1
                    outcome, self_passed, test_error = attempt(right["code"], test)
                    if not outcome["passed"]:
                        report.problem(f"{test_id} rejects a correct answer ({right['why']}): "
                                       f"{outcome['visible'] or outcome['hidden']}")
                    elif not self_passed:
                        report.problem(f"{test_id}: the self-check rejects a correct answer ({right['why']}): {test_error}")
                    else:
                        report.accepted += 1
                        row["accepted"] += 1
                outcome, self_passed, test_error = attempt(cell.source, test)
                if not outcome["passed"]:
                    report.problem(f"{test_id} fails on the solution: {outcome['visible'] or outcome['hidden']}")
                if not self_passed:
                    report.problem(f"{test_id}: the solution does not pass its own self-check on one core: {test_error}")
                report.self_checks += 1
    finally:
        kernel.close()
    for test_id in (nbgrader_meta(t)["grade_id"] for _, tests in groups.values() for t in tests):
        if not report.rejections.get(test_id):
            report.problem(f"{test_id} rejects none of the recorded wrong answers")


def outcome_text(nb):
    """{test id: the text of its graded output} from an autograded notebook."""
    found = {}
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            found[meta["grade_id"]] = json.dumps(cell.get("outputs", []))
    return found
