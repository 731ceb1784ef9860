"""The student's path in a real browser: JupyterLab started by `make lab`, driven in Debian's Chromium.

Screenshots of every step go to build/screenshots/. A failing step names its screenshot and the
error text the page showed.
"""

import contextlib
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from grader.course import NOTEBOOKS, ROOT, tool_env

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "build" / "screenshots"
LESSON = "00_spark_for_pandas_users"
CORRECT_ANSWER = (
    'successful_phd = grants.filter((F.col("granted") == 1) & (F.col("lead_with_phd") == "Yes"))'
    '.select("application_id", "sponsor_code", "team_size")'
)

pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"gave up after {timeout} s waiting for {what}")


@contextlib.contextmanager
def jupyter(make_target, root, log):
    """Start JupyterLab with the course's own make target, headless on 127.0.0.1 with a token."""
    port, token = free_port(), secrets.token_hex(16)
    args = f"--no-browser --allow-root --ServerApp.port={port} --IdentityProvider.token={token}"
    proc = subprocess.Popen(
        ["make", "--no-print-directory", make_target, f"LAB_ROOT={root}", f"COURSE={root}", f"LAB_ARGS={args}"],
        cwd=ROOT, env=tool_env(), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).status == 200
        except OSError:
            return proc.poll() is not None  # stop waiting if it died

    try:
        wait_for(up, 90, f"JupyterLab on {url}")
        assert proc.poll() is None, f"JupyterLab exited; see {log.name}"
        yield url, token
    finally:
        import os
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


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

    @contextlib.contextmanager
    def step(self, name):
        self.count += 1
        shot = SHOTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        try:
            yield
        except Exception as error:
            self.page.screenshot(path=str(shot), full_page=False)
            errors = self.page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
            shown = "\n".join(errors.all_text_contents())[-2000:]
            raise AssertionError(f"step {name!r} failed: {error}\nscreenshot: {shot}\npage showed:\n{shown}") from error
        self.page.screenshot(path=str(shot), full_page=False)


def cell(page, text):
    """The notebook cell whose source contains this text."""
    return page.locator(".jp-Notebook .jp-Cell").filter(has=page.locator(".jp-InputArea", has_text=text)).first


def wait_idle(page, timeout=120_000):
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return s && s.getAttribute('data-status') === 'idle'; }", timeout=timeout)


def started(page, a_cell, timeout=30_000):
    """Has this cell started running (its prompt shows [*] or a number) within the timeout?"""
    try:
        page.wait_for_function("(el) => /\\[(\\*|\\d+)\\]/.test(el.querySelector('.jp-InputPrompt').innerText)",
                               arg=a_cell.element_handle(), timeout=timeout)
        return True
    except PlaywrightTimeout:
        return False


def run_menu(page, label):
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{label}$")).click()


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
            run_menu(page, "Run All Cells")
            if not started(page, setup):
                # Under load the first kernel connection can fail and Run All then runs nothing: as a
                # student would, run all again once the kernel is back.
                wait_idle(page)
                run_menu(page, "Run All Cells")
            answer = cell(page, "successful_phd = None")
            answer.locator(".jp-OutputArea-output", has_text="NotImplementedError").wait_for(timeout=180_000)
            wait_idle(page)
            assert "Spark 4.3.0 running in local" in setup.locator(".jp-OutputArea").text_content()
            answer.scroll_into_view_if_needed()

        test_cell = cell(page, "check_schema(successful_phd")
        with steps.step("unanswered-test-explains"):
            test_cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            message = test_cell.locator(".jp-OutputArea-output", has_text="Not yet")
            message.wait_for(timeout=60_000)
            assert "`successful_phd` should be a Spark DataFrame, but it is None" in message.text_content()
            test_cell.scroll_into_view_if_needed()

        with steps.step("correct-answer-passes"):
            answer.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Control+A")
            page.keyboard.insert_text(CORRECT_ANSWER)
            page.keyboard.press("Shift+Enter")  # runs the answer, moves to the test
            page.keyboard.press("Shift+Enter")  # runs the test
            wait_idle(page)
            page.wait_for_function(
                "(el) => el.querySelector('.jp-InputPrompt').innerText.match(/\\[\\d+\\]/)",
                arg=test_cell.element_handle(), timeout=60_000)
            assert answer.locator(".jp-OutputArea-output").count() == 0, answer.text_content()
            assert test_cell.locator(".jp-OutputArea-output").count() == 0, test_cell.text_content()
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
