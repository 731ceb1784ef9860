"""The student's path in a real browser: JupyterLab started by `make lab`, driven in Debian's Chromium.

Screenshots of every step go to build/screenshots/. A failing step names its screenshot and the
error text the page showed. Besides lesson 00 and the formgrader: live progress in the cell while a
Spark job runs (a classic session, and Spark Connect against a local Connect server), and the
Spark UI one click away through jupyter-server-proxy (the launcher's card and the cell's link).

Not beside the image tier (tests/test_docker.py) or anything else that starts containers on this
machine: Chromium aborts its requests in flight (net::ERR_NETWORK_CHANGED) whenever a network interface
comes or goes (Docker's veth pairs and bridges), and JupyterLab then shows "Server Connection Error"
(seen on Validate with the image tier running beside). `make test` runs the tiers one after the other;
a failing step lists what the browser console logged.
"""

import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import nbformat
import pytest

from grader.common import free_port, listening, stop_group, wait_until
from grader.course import NOTEBOOKS, ROOT, tool_env

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "build" / "screenshots"
LESSON = "00_spark_for_pandas_users"
WRONG_ANSWER = (  # "or" for "and": the right shape, the wrong rows
    'successful_phd = grants.filter((F.col("granted") == 1) | (F.col("lead_with_phd") == "Yes"))'
    '.select("application_id", "sponsor_code", "team_size")'
)
CORRECT_ANSWER = (
    'successful_phd = grants.filter((F.col("granted") == 1) & (F.col("lead_with_phd") == "Yes"))'
    '.select("application_id", "sponsor_code", "team_size")'
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")]

# A job long enough to watch: one stage of 24 tasks of half a second each, two at a time on two cores.
SLOW_JOB = ("import time\n"
            "from pyspark.sql import functions as F\n"
            "slow = F.udf(lambda x: (time.sleep(0.5), x)[1], 'long')\n"
            "spark.range(0, 24, 1, 24).select(slow('id').alias('x')).collect()")


@contextlib.contextmanager
def jupyter(make_target, root, log, **env):
    """Start JupyterLab with the course's own make target, headless on 127.0.0.1 with a token.

    As a test's: Spark's UI and the progress bars are off (tool_env) unless env says SPARKCOURSE_UI=1.
    """
    port, token = free_port(), secrets.token_hex(16)
    args = f"--no-browser --ServerApp.port={port} --IdentityProvider.token={token}"
    if make_target != "lab" and os.geteuid() == 0:
        args += " --allow-root"  # make lab adds it itself (that is tested here); the formgrader does not
    environment = dict(tool_env(), **env)
    # JupyterLab's own state per run: a layout saved by an earlier test (or by the user in ~/.jupyter)
    # would reopen its notebooks and start kernels for them beside this test's.
    state = Path(log.name).parent / f"jupyterlab-state-{port}"
    environment.update(JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
                       JUPYTERLAB_SETTINGS_DIR=str(state / "settings"))
    # Nothing of a Spark session this test process made earlier: a Spark Connect client leaves
    # SPARK_CONNECT_MODE_ENABLED in os.environ, which would make every kernel a Connect client.
    for name in ("SPARK_REMOTE", "SPARK_MASTER", "SPARK_CONNECT_AUTHENTICATE_TOKEN", "SPARK_CONNECT_MODE_ENABLED",
                 "SPARK_LOCAL_REMOTE"):
        if name not in env:
            environment.pop(name, None)
    proc = subprocess.Popen(
        ["make", "--no-print-directory", make_target, f"LAB_ROOT={root}", f"COURSE={root}", f"LAB_ARGS={args}"],
        cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).status == 200
        except OSError:
            return proc.poll() is not None  # stop waiting if it died

    try:
        wait_until(up, 180, 0.5, f"JupyterLab on {url}")
        assert proc.poll() is None, f"JupyterLab exited; see {log.name}"
        yield url, token
    finally:
        stop_group(proc, grace=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield chromium
        chromium.close()


class Steps:
    """Screenshots after each step; on failure, the screenshot path and the page's visible errors."""

    def __init__(self, page, prefix):
        self.page, self.prefix, self.count = page, prefix, 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.console = []  # what JupyterLab logged in the browser: its errors say why a kernel was lost
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning")
                else None)

    @contextlib.contextmanager
    def step(self, name):
        self.count += 1
        shot = SHOTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        try:
            yield
        except Exception as error:
            try:  # a page too busy for a screenshot must not hide the step's own error
                self.page.screenshot(path=str(shot), full_page=False)
                errors = self.page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
                shown = "\n".join(errors.all_text_contents())[-2000:]
            except Exception as also:
                shot, shown = f"none ({also})", ""
            logged = "\n".join(self.console[-20:])[-3000:]
            raise AssertionError(f"step {name!r} failed: {error}\nscreenshot: {shot}\npage showed:\n{shown}\n"
                                 f"browser console:\n{logged}") from error
        self.page.screenshot(path=str(shot), full_page=False)


def cell(page, text):
    """The notebook cell whose source contains this text."""
    return page.locator(".jp-Notebook .jp-Cell").filter(has=page.locator(".jp-InputArea", has_text=text)).first


def wait_idle(page, timeout=120_000):
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=timeout)


def cell_state(page, a_cell):
    """Wait until this cell has an output, or the kernel has been idle for 3 s with the cell not queued;
    then say which: 'output', 'ran' or 'not run'.

    Event-based: it returns as soon as either happens, however loaded the machine (the timeout only
    bounds a kernel that never answers; the 3 s, the moment between a click and the cells queued)."""
    page.evaluate("() => { window.__sparkcourseIdleSince = null; }")
    page.wait_for_function(
        "(el) => { if (el.querySelector('.jp-OutputArea-output')) return true;"
        " const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " const idle = s && s.getAttribute('data-status') === 'idle'"
        "   && !/\\[\\*\\]/.test(el.querySelector('.jp-InputPrompt').innerText);"
        " if (!idle) { window.__sparkcourseIdleSince = null; return false; }"
        " window.__sparkcourseIdleSince = window.__sparkcourseIdleSince || Date.now();"
        " return Date.now() - window.__sparkcourseIdleSince > 3000; }",
        arg=a_cell.element_handle(), polling=100, timeout=900_000)
    if a_cell.locator(".jp-OutputArea-output").count():
        return "output"
    return "ran" if re.search(r"\[\d+\]", a_cell.locator(".jp-InputPrompt").inner_text()) else "not run"


def run_all_until(page, a_cell):
    """Run All Cells, until this cell has an output. Under load the kernel's first connection can be lost
    and Run All then runs only part of the notebook (the kernel idle, the cell never run): as a student
    would, run all again, at most twice."""
    for _ in range(3):
        run_menu(page, "Run All Cells")
        if cell_state(page, a_cell) != "not run":
            return
    raise AssertionError("Run All Cells never reached the cell")


def edit(page, a_cell):
    """Click into this cell's editor and wait until it has the keyboard: under load the focus comes late,
    and a Shift+Enter pressed before it goes nowhere (the cell then never runs)."""
    editor = a_cell.locator(".jp-InputArea-editor")
    editor.click(timeout=120_000)  # the click itself waited over 30 s for the page on a loaded machine
    page.wait_for_function("(el) => el.contains(document.activeElement)", arg=editor.element_handle(),
                           timeout=60_000)


def answer_and_test(page, answer, test_cell, code, expect):
    """Type ``code`` as the answer, run it and its test; the test's output holding ``expect``, once it shows."""
    edit(page, answer)
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")  # runs the answer, moves to the test
    page.keyboard.press("Shift+Enter")  # runs the test
    output = test_cell.locator(".jp-OutputArea-output", has_text=expect)
    output.wait_for(timeout=120_000)
    return output


def run_menu(page, label):
    """Run > label; the clicks wait as long as edit's: make test runs other tiers beside this one."""
    page.locator(".lm-MenuBar-item", has_text="Run").first.click(timeout=120_000)
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{label}$")).click(timeout=120_000)


def test_student_path_in_jupyterlab(tmp_path, browser):
    course = tmp_path / "student"
    shutil.copytree(NOTEBOOKS, course)  # the student's own copy: the repository's notebooks stay untouched
    log = (tmp_path / "lab.log").open("w")
    with jupyter("lab", course, log) as (url, token):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        steps = Steps(page, "student")
        with steps.step("open-lesson-00"):
            page.goto(f"{url}/lab/tree/{LESSON}/{LESSON}.ipynb?token={token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
            wait_idle(page)

        with steps.step("run-all-setup-works"):
            setup = cell(page, "spark = get_spark()")
            # The answer cell is the one just before exercise 1's test cell: found by its place, not by
            # its text, which the student replaces below (a locator is looked up again at each use).
            test_cell = cell(page, 'check_answer("ex1"')
            answer = test_cell.locator("xpath=preceding-sibling::*[contains(concat(' ', normalize-space(@class), ' '),"
                                       " ' jp-Cell ')][1]")
            assert "successful_phd = None" in answer.locator(".jp-InputArea").text_content()
            run_all_until(page, answer)
            answer.locator(".jp-OutputArea-output", has_text="NotImplementedError").wait_for(timeout=10_000)
            wait_idle(page, timeout=900_000)
            assert "Spark 4.3.0 running in local" in setup.locator(".jp-OutputArea").text_content()
            answer.scroll_into_view_if_needed()

        with steps.step("unanswered-test-explains"):
            edit(page, test_cell)
            page.keyboard.press("Shift+Enter")
            message = test_cell.locator(".jp-OutputArea-output", has_text="Not yet")
            message.wait_for(timeout=60_000)
            assert "`successful_phd` should be a Spark DataFrame, but it is None" in message.text_content()
            test_cell.scroll_into_view_if_needed()

        with steps.step("wrong-values-say-which-part-differs"):
            message = answer_and_test(page, answer, test_cell, WRONG_ANSWER, "not yet the expected values")
            text = message.text_content()
            assert "`successful_phd` has the right shape, but not yet the expected values: the row count is wrong" in text, text
            test_cell.scroll_into_view_if_needed()

        with steps.step("correct-answer-passes-its-self-check"):
            passed = answer_and_test(page, answer, test_cell, CORRECT_ANSWER, "self-check passed")
            assert answer.locator(".jp-OutputArea-output").count() == 0, answer.text_content()
            assert "has the expected values" in passed.text_content(), passed.text_content()
            test_cell.scroll_into_view_if_needed()

        with steps.step("nbgrader-validate"):
            # Validate saves the notebook itself; a save of our own just before races with it and makes
            # JupyterLab ask "File Changed", a dialog that the results then wait behind.
            page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate", exact=True).click()
            dialog = page.locator(".jp-Dialog")
            dialog.get_by_text("Validation Results").wait_for(timeout=150_000)
            report = dialog.text_content()
            # Exercise 1 is answered; exercise 2's test must be reported failing, with its message.
            assert "by_category" in report, report[:2000]
            assert "successful_phd" not in report, report[:2000]
        page.close()


def test_instructor_formgrader_serves(tmp_path, browser):
    course = tmp_path / "instructor"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    log = (tmp_path / "formgrader.log").open("w")
    with jupyter("formgrader", course, log) as (url, token):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        steps = Steps(page, "instructor")
        with steps.step("formgrader"):
            page.goto(f"{url}/formgrader?token={token}")
            page.get_by_text(LESSON).first.wait_for(timeout=60_000)
            assert "Manage Assignments" in page.content()
        page.close()


def scratch_notebook(folder):
    """A notebook a student might write: a session, then a job that takes a few seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from sparkcourse import get_spark\nspark = get_spark()"),
        nbformat.v4.new_code_cell(SLOW_JOB),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "spark-ui.ipynb")
    return "spark-ui.ipynb"


def watch_progress(page, steps, name):
    """Run the notebook; screenshot the job's bar while it runs, then check what it says when done."""
    job = cell(page, "slow = F.udf")
    bar = job.locator(".sparkcourse-progress")
    with steps.step(f"{name}-progress-bar-while-the-job-runs"):
        run_all_until(page, job)  # returns once the job's cell shows its first output: the bar
        page.wait_for_function(
            "(el) => { const b = el.querySelector('.sparkcourse-progress');"
            " return b && /running/.test(b.innerText) && !/24\\/24/.test(b.innerText); }",
            arg=job.element_handle(), timeout=300_000)
        text = bar.inner_text()
        assert re.search(r"Spark: \d+/24 tasks · 1 stage · \d+ running", text), text
        job.scroll_into_view_if_needed()
    with steps.step(f"{name}-progress-bar-when-done"):
        wait_idle(page, timeout=300_000)
        text = bar.inner_text()
        assert re.search(r"Spark: 24/24 tasks · 1 stage · done · [\d.]+ s", text), text
    return job


def test_classic_progress_and_the_spark_ui_one_click_away(tmp_path, browser):
    """make lab, a local session: a bar under the running cell; the UI from the launcher's card and from
    the link under the setup cell, served by JupyterLab at /spark-ui/, its own links working there."""
    course = tmp_path / "student"
    notebook = scratch_notebook(course)
    log = (tmp_path / "lab.log").open("w")
    with jupyter("lab", course, log, SPARKCOURSE_UI="1") as (url, token):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        steps = Steps(page, "spark-ui")
        page.goto(f"{url}/lab/tree/{notebook}?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        wait_idle(page)
        watch_progress(page, steps, "classic")

        with steps.step("spark-ui-jobs-page-through-the-proxy"):
            link = cell(page, "spark = get_spark()").locator("a", has_text="Spark UI")
            href = link.get_attribute("href")
            # /spark-ui/ (the launcher's card) when the session got port 4040, else the proxy's by port
            # (another Spark on this machine holds 4040).
            base = re.fullmatch(r"(/spark-ui|/proxy/\d+)/jobs/", href)
            assert base, href
            base = base.group(1)
            with page.expect_popup() as opened:
                link.click()
            ui = opened.value
            ui.set_viewport_size({"width": 1400, "height": 900})
            ui.get_by_text("Completed Jobs").first.wait_for(timeout=60_000)
            assert ui.url.startswith(f"{url}{base}/jobs"), ui.url
            assert "collect at" in ui.content(), "the finished job is listed"
            steps.page = ui
        with steps.step("spark-ui-stages-link-works"):
            ui.locator("a.nav-link", has_text="Stages").click()
            ui.get_by_text("Stages for All Jobs").wait_for(timeout=60_000)
            assert ui.url.startswith(f"{url}{base}/stages"), ui.url
            ui.close()
            steps.page = page

        with steps.step("launcher-spark-ui-card"):
            page.goto(f"{url}/lab?reset&token={token}")
            card = page.locator(".jp-LauncherCard", has_text="Spark UI")
            card.wait_for(timeout=60_000)
            if base == "/spark-ui":  # the card serves port 4040: this session's UI only when it has 4040
                with page.expect_popup() as opened:
                    card.click()
                opened.value.get_by_text("Spark Jobs").first.wait_for(timeout=60_000)
                assert opened.value.url.startswith(f"{url}/spark-ui/"), opened.value.url
                opened.value.close()
        page.close()


@pytest.fixture
def connect_server(tmp_path):
    """A local Spark Connect server (local[2]) on a free port: the Connect side of make lab."""
    port = free_port()
    spark_home = Path(sys.executable).parent.parent / "lib" / "python3.11" / "site-packages" / "pyspark"
    log = (tmp_path / "connect.log").open("w")
    proc = subprocess.Popen(
        [str(spark_home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
         "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
         "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.ui.enabled=false"],
        # The server's Python workers (the UDFs): this interpreter, with pyarrow, not a python3 found on PATH.
        env=dict(os.environ, SPARK_HOME=str(spark_home), SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
                 PYSPARK_DRIVER_PYTHON=sys.executable), cwd=tmp_path,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up():
            assert proc.poll() is None, f"the Connect server exited; see {log.name}"
            return listening(port)

        wait_until(up, 300, 1, "the Spark Connect server")
        yield f"sc://localhost:{port}"
    finally:
        stop_group(proc, grace=30)


def test_spark_connect_progress_in_the_cell(tmp_path, browser, connect_server):
    """make lab with SPARK_REMOTE: the same bar, from the progress the Connect server streams."""
    course = tmp_path / "student"
    notebook = scratch_notebook(course)
    log = (tmp_path / "lab.log").open("w")
    with jupyter("lab", course, log, SPARKCOURSE_UI="1", SPARK_REMOTE=connect_server) as (url, token):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        steps = Steps(page, "spark-connect")
        page.goto(f"{url}/lab/tree/{notebook}?token={token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        wait_idle(page)
        watch_progress(page, steps, "connect")
        page.close()
