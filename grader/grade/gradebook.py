"""nbgrader's gradebook, as grading uses it: students made before work starts, points summed in one place."""

from nbgrader.api import Gradebook, MissingEntry


def gradebook_url(course):
    """The gradebook, waiting up to 2 minutes for a lock: parallel gradings write to it at once."""
    return f"sqlite:///{course / 'gradebook.db'}?timeout=120"


def auto_points(grades):
    """(points earned, points possible) of the autograded cells; written answers wait for a person."""
    auto = [g for g in grades if g.cell_type == "code"]
    return float(sum(g.auto_score or 0 for g in auto)), float(sum(g.max_score for g in auto))


def ensure_students(course, students):
    """Create every student once, one after the other, before any parallel grading (nbgrader would race)."""
    with Gradebook(gradebook_url(course)) as gradebook:
        for student in sorted(set(students)):
            gradebook.update_or_create_student(student)


def known_assignments(course):
    with Gradebook(gradebook_url(course)) as gradebook:
        return {a.name for a in gradebook.assignments}


def scores(course, student, lesson):
    """(earned, possible) for a graded submission, or None if the gradebook has none."""
    with Gradebook(gradebook_url(course)) as gradebook:
        try:
            sub = gradebook.find_submission_notebook(lesson, lesson, student)
        except MissingEntry:
            return None
        return auto_points(sub.grades)


def possible(course, lesson):
    """The autograded points a lesson has (from its grade cells)."""
    with Gradebook(gradebook_url(course)) as gradebook:
        cells = [c for n in gradebook.find_assignment(lesson).notebooks for c in n.grade_cells]
        return float(sum(c.max_score for c in cells if c.cell_type == "code"))


def record_zero(course, student, lesson):
    """A submission that could not be graded: listed in the gradebook with no points, so exports show it."""
    with Gradebook(gradebook_url(course)) as gradebook:
        gradebook.update_or_create_student(student)
        try:
            submission = gradebook.find_submission(lesson, student)
        except MissingEntry:
            submission = gradebook.add_submission(lesson, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
        gradebook.db.commit()
    return possible(course, lesson)
