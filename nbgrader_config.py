"""nbgrader's configuration for the course: solutions/ is the source, notebooks/ the release."""

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "spark-ml-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "spark-warehouse", "metastore_db"]

# A cold Spark start takes ~5 s and some cells train models: 30 s per cell is too tight on 2 cores,
# while a runaway cell must still end. The whole-notebook budget is enforced by the harness.
c.Execute.timeout = 120
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
