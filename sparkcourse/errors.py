"""Errors that speak to a student in one sentence instead of a wall of traceback."""


class CourseError(Exception):
    """A problem with the set-up (Java, data, environment), shown in Jupyter as its message alone."""

    def _render_traceback_(self):  # IPython shows these lines instead of the traceback
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}"]


class AnswerError(AssertionError):
    """An exercise check that failed: says what was expected and what the answer gave.

    An AssertionError, so nbgrader and pytest count it as a failed test.
    """

    def _render_traceback_(self):
        return [f"\x1b[1;31mNot yet\x1b[0m: {self}"]
