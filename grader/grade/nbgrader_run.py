"""Real nbgrader commands, each in a process of its own forked from one that imported nbgrader once.

The same as `python -m nbgrader autograde ...`, without paying for Python's and nbgrader's imports
each time. Each run gets the course's grading configuration (grading_config) on top of the course's
nbgrader_config.py, its own process group (a timeout stops it and everything it started), and dies
with the grader: a grader killed mid-batch leaves no nbgrader run that could write results later.
"""

import multiprocessing
import os
import signal

FORK = multiprocessing.get_context("forkserver")
multiprocessing.set_forkserver_preload(["grader.grade.nbgrader_preload"])
KERNEL_NAME = "sparkcourse-sandbox"


def grading_config(db_url, checker_socket, private_dir, cell_timeout, sandbox=True):
    """{trait: value} for autograde: the course's Execute step, IPC kernels, students made beforehand."""
    settings = {
        "CourseDirectory.db_url": db_url,
        "Autograde.create_student": False,  # made one after the other before grading starts (nbgrader races)
        "Autograde.autograde_preprocessors": [
            "grader.grade.execute.SandboxedExecute", "nbgrader.preprocessors.IgnorePattern",
            "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
            "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
            "nbgrader.preprocessors.CheckCellMetadata"],
        "SandboxedExecute.checker_socket": checker_socket,
        "SandboxedExecute.private_dir": private_dir,
        "Execute.timeout": cell_timeout,
    }
    if sandbox:
        settings["Execute.kernel_name"] = KERNEL_NAME
    return settings


def _config(settings):
    from traitlets.config import Config
    from traitlets.utils.importstring import import_item

    config = Config()
    for key, value in settings.items():
        section, name = key.rsplit(".", 1)
        if name.endswith("preprocessors"):
            value = [import_item(v) for v in value]
        config[section][name] = value
    return config


def _main(argv, cwd, env, log_path, settings):
    os.setsid()  # its own process group, so a timeout stops it and everything it started
    from ..common import die_with_parent

    die_with_parent()
    if os.getppid() == 1:
        os._exit(1)  # the grader is already gone
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    from nbgrader.apps.nbgraderapp import NbGraderApp

    NbGraderApp.launch_instance(argv=argv, config=_config(settings))


class Run:
    """One nbgrader command running; ``wait`` gives its exit code (None past its timeout), ``kill`` stops it now."""

    def __init__(self, argv, cwd, env, log_path, settings=None):
        self.process = FORK.Process(target=_main, args=(argv, str(cwd), env, str(log_path), settings or {}),
                                    daemon=True)
        self.process.start()
        self.killed = False

    def wait(self, timeout):
        self.process.join(timeout)
        if self.process.is_alive():
            self.kill()
            return None
        return self.process.exitcode

    def kill(self):
        self.killed = True
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.join()


def run_nbgrader(argv, cwd, env, log_path, timeout, settings=None):
    """Run nbgrader with argv in cwd, its output added to log_path; its exit code, or None if it ran past timeout."""
    return Run(argv, cwd, env, log_path, settings).wait(timeout)
