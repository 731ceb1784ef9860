"""Release: the student notebooks generated from solutions/ by nbgrader, and the student bundle."""
