"""The course's helper package: every notebook gets its Spark session, data paths and exercise checks here."""

from .answers import plan_of
from .checks import (
    check_columns,
    check_dataframe,
    check_dataframe_type,
    check_pandas,
    check_pandas_columns,
    check_schema,
    check_type,
    check_value,
)
from .datasets import read_grant_people, read_grants
from .errors import AnswerError, CourseError
from .exercises import check_answer, hint, progress, use_lesson
from .paths import data_dir, data_path
from .session import describe_mode, get_spark

__all__ = [
    "AnswerError", "CourseError", "check_answer", "check_columns", "check_dataframe", "check_dataframe_type", "check_pandas",
    "check_pandas_columns", "check_schema", "check_type", "check_value", "data_dir", "data_path", "describe_mode",
    "get_spark", "hint", "plan_of", "progress", "read_grant_people", "read_grants", "use_lesson",
]
