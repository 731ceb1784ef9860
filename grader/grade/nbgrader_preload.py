"""What every nbgrader run would load and compile again, done once in the process they are forked from.

grader/grade/nbgrader_run.py forks each `nbgrader autograde` and `generate_feedback` from a process that
imported this. Rendering one small notebook to HTML here compiles the regular expressions, the
Pygments lexer and Jinja's lexer that each feedback page needs (measured: 0.57 CPU-s a page cold,
0.25 warm).
"""

import nbformat
import nbgrader.apps.nbgraderapp  # noqa: F401 - the apps themselves
from nbconvert.exporters import HTMLExporter

import grader.grade.execute  # noqa: F401 - the course's Execute step and what it imports (nbclient, sparkcourse)

_sample = nbformat.v4.new_notebook(cells=[
    nbformat.v4.new_markdown_cell("# A title\n\nSome *text*, `code` and a [link](https://spark.apache.org)."),
    nbformat.v4.new_code_cell("import pandas as pd\n\nprint(f'{1 + 2} rows')  # a comment",
                              outputs=[nbformat.v4.new_output("stream", text="3 rows\n")]),
])
HTMLExporter(template_name="classic").from_notebook_node(_sample)
