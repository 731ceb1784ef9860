"""Feedback pages: nbgrader's own, without the hidden tests' code, and a page for what could not be graded.

nbgrader's generate_feedback renders the autograded notebook. Graded the course's way, each test
cell's output already says how its visible test and its hidden tests went (by the test's name),
from the checker; ``ClearHiddenTests`` takes the hidden code out of the page; HTML is sanitized, so
nothing a submission wrote (a Markdown cell, say) runs in the reader's browser.
"""

import html
import shutil

FEEDBACK_CONFIG = {
    "GenerateFeedback.preprocessors": ["nbgrader.preprocessors.GetGrades", "nbgrader.preprocessors.ClearHiddenTests",
                                       "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor"],
    "ClearHiddenTests.enforce_metadata": False,
    "HTMLExporter.sanitize_html": True,
}


def write_failure_page(course, student, lesson, reason):
    """A page for a submission that could not be graded: what happened and what to do."""
    folder = course / "feedback" / student / lesson
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / f"{lesson}.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(lesson)}: feedback</title></head><body>"
        f"<h1>{html.escape(lesson)}: 0 points</h1><p>Your submission could not be graded: "
        f"{html.escape(reason)}.</p><p>Fix this and submit again, or ask your instructor.</p></body></html>\n")
