"""Grade: a class graded with real nbgrader, each notebook in the sandbox, feedback and grades.csv."""
