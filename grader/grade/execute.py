"""nbgrader's Execute step, graded the course's way: run in the sandbox with visible tests only, scored by the checker.

``SandboxedExecute`` takes the place of nbgrader's ``Execute`` in ``autograde_preprocessors``:

1. every test cell is cut to its visible part (the hidden tests never reach the student's kernel);
2. the notebook runs in the sandbox's kernel (grader/sandbox/kernel.py), over IPC, with recording on:
   each test cell's ``check_answer`` sends its answers as data; they are taken out of the outputs
   as they arrive, and nothing else the kernel sends is kept but inert, size-limited output;
3. the checker (grader/grade/checker.py), which never ran student code, runs each test cell whole
   against those answers; its outcome, and nothing the kernel printed, becomes the test cell's
   output, which nbgrader's SaveAutoGrades scores (an error output: no points).

A kernel that dies, or a cell past its timeout, costs only the tests whose answers were not
recorded yet. Test cells get their full source back afterwards, for the formgrader; feedback
pages drop the hidden part (grader/grade/feedback.py).
"""

import json
import os
import tempfile
import uuid

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Unicode

from sparkcourse.answers import MAX_BYTES, MIME

from ..common import C1_SUBMIT_ARGS
from ..course import is_test
from .checker import CheckerError, ask, split_test
from .outputs import OutputBudget, clean_cell

PASSED = "✓ passed: the visible test and the hidden tests"


# What the grader passes on to the kernel, beside the sandbox's own allow-list (grader/sandbox/policy.py).
KERNEL_VARIABLES = ("SPARK_REMOTE", "PYSPARK_SUBMIT_ARGS", "SPARK_LOCAL_IP")


def kernel_variables():
    """The kernel's environment from the grader's: recording on, UI off, where Spark is; nothing else."""
    env = {name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ}
    import sys

    env.update(SPARKCOURSE_RECORD="1", SPARKCOURSE_UI="0", NBGRADER_EXECUTION="autograde",
               PYSPARK_PYTHON=sys.executable)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    env.setdefault("PYSPARK_SUBMIT_ARGS", C1_SUBMIT_ARGS)  # a kernel's own local Spark (a classic-session lesson)
    return env


def outcome_outputs(outcome):
    """The outputs nbgrader scores: an error when a part failed, saying which, never the hidden code."""
    agreed = {True: " Self-check: agrees.", False: " Self-check: disagrees.", None: ""}[outcome.get("selfcheck")]
    if outcome["passed"]:
        return [new_output("stream", name="stdout", text=f"{PASSED} ({outcome['grade_id']}).{agreed}\n")]
    if outcome["visible"] is not None:
        part, message = "the visible test", outcome["visible"]
    else:
        part, message = f"hidden test {outcome['grade_id']}", outcome["hidden"]
    return [new_output("error", ename="NotYet", evalue=f"{part}: {message}{agreed}",
                       traceback=[f"\x1b[1;31mNot yet\x1b[0m ({part}): {message}{agreed}"])]


class SandboxedExecute(Execute):
    """Execute in the sandbox; the checker decides (see the module's docstring)."""

    checker_socket = Unicode("", help="the lesson's checker (grader.grade.checker)").tag(config=True)
    private_dir = Unicode("", help="a folder only the grader uses: the kernel's connection file, its socket links").tag(config=True)

    # --- the kernel: IPC only, in a private folder ----------------------------------------------------

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        folder = tempfile.mkdtemp(prefix="kernel-", dir=self.private_dir or None)
        km.transport = "ipc"
        km.connection_file = os.path.join(folder, "kernel.json")
        km.ip = os.path.join(folder, "k")
        return km

    # --- what arrives from the kernel ------------------------------------------------------------------

    def process_message(self, msg, cell, cell_index):
        if msg.get("msg_type") == "stream" and self._budget.full(cell_index):
            return None  # a flood: dropped as it arrives, without a look
        content = msg.get("content", {})
        if msg.get("msg_type") in ("display_data", "update_display_data") and MIME in (content.get("data") or {}):
            if msg["msg_type"] == "display_data" and is_test(cell):
                self._record(cell_index, content["data"][MIME])
            return None  # answers are data for the checker, not output
        if msg.get("msg_type") in ("stream", "display_data", "execute_result"):
            if not self._budget.allow(cell_index, dict(content, output_type=msg["msg_type"])):
                return None
        return super().process_message(msg, cell, cell_index)

    def _record(self, cell_index, bundle):
        answers = bundle.get("answers") if isinstance(bundle, dict) else None
        if not isinstance(answers, str) or len(answers) > MAX_BYTES:
            self._answers[cell_index] = None
            self._why[cell_index] = "the recorded answer was malformed or too big"
        elif cell_index in self._answers:
            self._answers[cell_index] = None
            self._why[cell_index] = "answers were recorded twice in this test cell"
        else:
            self._answers[cell_index] = answers

    # --- the whole notebook -----------------------------------------------------------------------------

    def preprocess(self, nb, resources=None, km=None):
        full = {i: c.source for i, c in enumerate(nb.cells) if is_test(c)}
        for i in full:
            nb.cells[i].source = split_test(full[i])[0]
        self._answers, self._why, self._budget, self._stopped = {}, {}, OutputBudget(), None
        os.environ["SANDBOX_CGROUP"] = f"sparkcourse-{uuid.uuid4().hex[:12]}"
        os.environ["SANDBOX_ENV"] = json.dumps(kernel_variables())
        try:
            nb, resources = self._execute(nb, resources, km)
        finally:
            self._save_usage(resources, os.environ["SANDBOX_CGROUP"])
            self._remove_cgroups(os.environ["SANDBOX_CGROUP"])
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and i not in full:
                clean_cell(cell, cut=i in self._budget.cut)
            elif cell.cell_type != "code":
                cell.pop("attachments", None)
        items = [self._item(i, nb.cells[i], full[i]) for i in sorted(full)]
        outcomes = self._judge(items)
        for i, outcome in zip(sorted(full), outcomes):
            nb.cells[i].source = full[i]
            nb.cells[i].outputs = outcome_outputs(outcome)
        return nb, resources

    def _execute(self, nb, resources, km):
        """nbclient's loop, cell by cell; a dead kernel or a timeout stops it, and what was recorded stays."""
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    self._stopped = f"the kernel died in cell {index + 1} (os._exit, a crash, or memory exhausted)"
                    cell.outputs.append(new_output("error", ename="DeadKernelError", evalue=self._stopped,
                                                   traceback=[self._stopped]))
                    break
                except CellTimeoutError:
                    self._stopped = f"cell {index + 1} ran past the cell timeout and could not be stopped"
                    break
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _item(self, index, cell, full_source):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        answers = self._answers.get(index)
        missing = self._why.get(index)
        if answers is None and missing is None:
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                missing = f"the test stopped before it could record your answer ({errors[0].get('ename')}: " \
                          f"{str(errors[0].get('evalue', ''))[:300]})"
            elif self._stopped:
                missing = f"not run: {self._stopped}"
            else:
                missing = "no answer was recorded (the test cell did not call check_answer)"
        return {"grade_id": grade_id, "source": full_source, "answers": answers, "missing": missing}

    def _judge(self, items):
        if not self.checker_socket:
            raise CheckerError("no checker is configured for this lesson (SandboxedExecute.checker_socket)")
        return ask(self.checker_socket, items)

    def _save_usage(self, resources, name):
        """The CPU seconds the submission's processes used (kernel and JVM), for the grader's records."""
        try:
            seconds = int(open(f"/sys/fs/cgroup/cpuacct/{name}/cpuacct.usage").read()) / 1e9
        except (OSError, ValueError):
            return
        who = (resources or {}).get("nbgrader", {})
        if self.private_dir and who.get("student"):
            path = os.path.join(self.private_dir, f"usage-{who['student']}-{who.get('assignment')}.json")
            with open(path, "w") as out:
                json.dump({"cpu_seconds": seconds}, out)

    @staticmethod
    def _remove_cgroups(name):
        for controller in ("pids", "memory", "cpuacct"):
            path = os.path.join("/sys/fs/cgroup", controller, name)
            try:
                os.rmdir(path)
            except OSError:
                pass


def write_outcomes_json(nb):
    """{grade_id: outcome text} of a graded notebook, for records and tests."""
    found = {}
    for cell in nb.cells:
        if is_test(cell):
            outputs = cell.get("outputs", [])
            found[cell.metadata["nbgrader"]["grade_id"]] = json.dumps(outputs[0]) if outputs else ""
    return found
