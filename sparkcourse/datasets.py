"""The course's data sets, read with fixed schemas so every lesson sees the same column types.

Every column is documented in data/README.md; data/generate_*.py writes the files.
"""

from .paths import data_path

_GRANT_MEMBER = ("person_id INT, role STRING, year_of_birth INT, country_of_birth STRING, with_phd STRING, dept_no INT, "
                 "faculty_no INT, successful_grants INT, unsuccessful_grants INT, pubs_a_star INT, pubs_a INT, "
                 "pubs_b INT, pubs_c INT")
_GRANTS_WIDE = ("application_id INT, sponsor_code STRING, grant_category STRING, contract_value_band STRING, "
                "start_date STRING, " + ", ".join(f"{column.replace(' ', f'_{k} ', 1)}" for k in range(1, 16)
                                                 for column in _GRANT_MEMBER.split(", ")))

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
    # capstone 14: one wide row per application, a block of member columns <attribute>_<k> for k = 1..15
    "grants_wide.csv": _GRANTS_WIDE + ", granted INT",
    "grants_wide_heldout.csv": _GRANTS_WIDE,
    # capstone 15
    "vqa_questions.csv": "question_id INT, image_id INT, split STRING, question STRING, answer_type STRING, answer STRING",
    "vqa_images.csv": "image_id INT, " + ", ".join(f"img_{k} DOUBLE" for k in range(12)),
    "vqa_heldout.csv": "question_id INT, image_id INT, question STRING",
    # capstone 16
    "wtf_follows.csv": "src INT, dst INT, split STRING",
    "wtf_users.csv": "user_id INT, role STRING",
    "wtf_activity.csv": "account_id INT, hour INT, posts INT",
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


def read_grants_wide(spark):
    """Capstone 14's data: (training applications with granted, held-out applications without), one wide row each."""
    return read_csv(spark, "grants_wide.csv"), read_csv(spark, "grants_wide_heldout.csv")


def read_vqa(spark):
    """Capstone 15's data: (questions with answers, image features per picture, held-out questions without answers)."""
    return tuple(read_csv(spark, name) for name in ("vqa_questions.csv", "vqa_images.csv", "vqa_heldout.csv"))


def read_who_to_follow(spark):
    """Capstone 16's data: (follows with their split, the users to recommend for with their role, posts by account and hour)."""
    return tuple(read_csv(spark, name) for name in ("wtf_follows.csv", "wtf_users.csv", "wtf_activity.csv"))
