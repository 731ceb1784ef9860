"""The course's data sets, read with fixed schemas so every lesson sees the same column types."""

from .paths import data_path

GRANTS_SCHEMA = (
    "application_id INT, start_date STRING, sponsor_code STRING, grant_category STRING, "
    "contract_value_band STRING, rfcd_code INT, rfcd_percentage INT, seo_code INT, team_size INT, "
    "lead_year_of_birth INT, lead_country_of_birth STRING, lead_with_phd STRING, lead_years_in_uni STRING, "
    "lead_successful_grants INT, lead_unsuccessful_grants INT, pubs_a_star INT, pubs_a INT, pubs_b INT, "
    "pubs_c INT, granted INT"
)
PEOPLE_SCHEMA = (
    "application_id INT, person_id INT, role STRING, year_of_birth INT, country_of_birth STRING, "
    "with_phd STRING, years_in_uni STRING, dept_no INT, faculty_no INT, successful_grants INT, "
    "unsuccessful_grants INT, pubs_a_star INT, pubs_a INT, pubs_b INT, pubs_c INT"
)


def read_grants(spark):
    """grants.csv as a Spark DataFrame: one row per grant application (see data/README.md)."""
    return spark.read.csv(data_path("grants.csv"), header=True, schema=GRANTS_SCHEMA)


def read_grant_people(spark):
    """grant_people.csv as a Spark DataFrame: one row per team member of an application."""
    return spark.read.csv(data_path("grant_people.csv"), header=True, schema=PEOPLE_SCHEMA)


QUESTIONS_SCHEMA = "question_id INT, image_id INT, split STRING, question STRING, answer_type STRING, answer STRING"


def read_questions(spark):
    """questions.csv as a Spark DataFrame: one row per question about a picture (see data/README.md)."""
    return spark.read.csv(data_path("questions.csv"), header=True, schema=QUESTIONS_SCHEMA)


ACCOUNTS_SCHEMA = "id INT, handle STRING, community STRING"
FOLLOWS_SCHEMA = "src INT, dst INT"


def read_accounts(spark):
    """accounts.csv as a Spark DataFrame: one row per account of the follower graph (the vertices)."""
    return spark.read.csv(data_path("accounts.csv"), header=True, schema=ACCOUNTS_SCHEMA)


def read_follows(spark):
    """follows.csv as a Spark DataFrame: one row per follow, src follows dst (the edges)."""
    return spark.read.csv(data_path("follows.csv"), header=True, schema=FOLLOWS_SCHEMA)

