"""The course's data sets, read with fixed schemas so every lesson sees the same column types.

Every column is documented in data/README.md; data/generate_*.py writes the files.
"""

from .paths import data_path

SCHEMAS = {
    "grants.csv": (
        "application_id INT, start_date STRING, sponsor_code STRING, grant_category STRING, "
        "contract_value_band STRING, rfcd_code INT, rfcd_percentage INT, seo_code INT, team_size INT, "
        "lead_year_of_birth INT, lead_country_of_birth STRING, lead_with_phd STRING, lead_years_in_uni STRING, "
        "lead_successful_grants INT, lead_unsuccessful_grants INT, pubs_a_star INT, pubs_a INT, pubs_b INT, "
        "pubs_c INT, granted INT"
    ),
    "grant_people.csv": (
        "application_id INT, person_id INT, role STRING, year_of_birth INT, country_of_birth STRING, "
        "with_phd STRING, years_in_uni STRING, dept_no INT, faculty_no INT, successful_grants INT, "
        "unsuccessful_grants INT, pubs_a_star INT, pubs_a INT, pubs_b INT, pubs_c INT"
    ),
    "questions.csv": "question_id INT, image_id INT, split STRING, question STRING, answer_type STRING, answer STRING",
    "accounts.csv": "id INT, handle STRING, community STRING",
    "follows.csv": "src INT, dst INT",
    "ratings.csv": "user_id INT, item_id INT, rating INT, day INT, split STRING",
    "items.csv": "item_id INT, title STRING, genre STRING",
}


def read_csv(spark, name):
    """data/<name> as a Spark DataFrame with its fixed schema (SCHEMAS)."""
    return spark.read.csv(data_path(name), header=True, schema=SCHEMAS[name])


def read_grants(spark):
    """grants.csv: one row per grant application."""
    return read_csv(spark, "grants.csv")


def read_grant_people(spark):
    """grant_people.csv: one row per team member of an application."""
    return read_csv(spark, "grant_people.csv")


def read_questions(spark):
    """questions.csv: one row per question about a picture."""
    return read_csv(spark, "questions.csv")


def read_accounts(spark):
    """accounts.csv: one row per account of the follower graph (the vertices)."""
    return read_csv(spark, "accounts.csv")


def read_follows(spark):
    """follows.csv: one row per follow, src follows dst (the edges)."""
    return read_csv(spark, "follows.csv")


def read_ratings(spark):
    """ratings.csv: one row per rating of a film by a user."""
    return read_csv(spark, "ratings.csv")


def read_items(spark):
    """items.csv: one row per film of the ratings data set."""
    return read_csv(spark, "items.csv")
