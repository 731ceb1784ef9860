"""Generate the course's grant-applications data set, deterministically, with realistic dirt.

Modelled on the Kaggle "Predict Grant Applications" challenge (University of Melbourne, 2011):
one row per application in grants.csv, one row per team member in grant_people.csv.
Every column is documented in data/README.md. Run: python data/generate_grants.py [--out DIR]
"""

import numpy as np
import pandas as pd
from generator_cli import write_csvs

SEED = 2011
N_APPLICATIONS = 3000

ROLES = ["CHIEF_INVESTIGATOR", "DELEGATED_RESEARCHER", "EXT_CHIEF_INVESTIGATOR", "STUDENT", "EXTERNAL_ADVISOR"]
COUNTRIES = ["Australia", "Asia Pacific", "Western Europe", "North America", "Great Britain", "Middle East and Africa"]
VALUE_BANDS = list("ABCDEFGHIJ")  # A is the smallest contract value, J the largest
# Research-field (RFCD) families; the code is family * 10000 + a field number.
RFCD_FAMILIES = [21, 23, 24, 27, 28, 29, 30, 32, 33, 35, 37, 39]
# The same grant category, written the ways data-entry staff wrote it.
CATEGORY_SPELLINGS = {"10A": ["10a", " 10A", "10A "], "30B": ["30b", "30 B"], "50A": ["50a"]}


BIG_SPONSORS = [f"{i}{letter}" for i, letter in zip([2, 4, 21, 24, 34, 40, 59, 62, 97], "BDACDAACK")]
TAIL_SPONSORS = [f"{i}{letter}" for i in range(100, 180) for letter in "AB"][:120]


def draw_sponsors(rng, n, effects, big_weights=(10, 2), tail_weight=0.08):
    """A long tail: a few big sponsors (``effects``: theirs on success, in order), many that fund one or two
    applications (neutral). Returns each application's sponsor and the effect of its sponsor."""
    weights = np.concatenate([np.linspace(*big_weights, len(BIG_SPONSORS)), np.full(len(TAIL_SPONSORS), tail_weight)])
    choice = rng.choice(len(BIG_SPONSORS) + len(TAIL_SPONSORS), size=n, p=weights / weights.sum())
    names = np.array(BIG_SPONSORS + TAIL_SPONSORS, dtype=object)[choice]
    effect = dict(zip(BIG_SPONSORS, effects))
    return names, np.array([effect.get(s, 0.0) for s in names])


def generate(seed=SEED, n=N_APPLICATIONS):
    """Return (grants, people) as pandas DataFrames."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1) + 10000

    sponsor, sponsor_effect = draw_sponsors(rng, n, [0.9, -0.6, 0.4, -0.3, 0.6, -0.9, 0.2, 0.0, -0.4])
    category = rng.choice(["10A", "20A", "30B", "30C", "50A"], size=n, p=[0.45, 0.1, 0.25, 0.05, 0.15])
    category_effect = pd.Series(category).map({"10A": -0.2, "20A": 0.5, "30B": 0.1, "30C": 0.3, "50A": 0.7}).to_numpy()
    band_idx = np.clip(rng.poisson(2.2, size=n), 0, 9)
    value_band = np.array(VALUE_BANDS)[band_idx]

    start = pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, size=n), unit="D")
    month_effect = np.where(start.month.isin([11, 12]), -0.8, 0.0) + np.where(start.month.isin([5, 6]), 0.3, 0.0)

    rfcd_family = rng.choice(RFCD_FAMILIES, size=n)
    rfcd_code = rfcd_family * 10000 + rng.integers(1, 9, size=n) * 100 + rng.integers(0, 5, size=n)
    rfcd_pct = rng.choice([100, 100, 100, 80, 70, 60, 50], size=n)
    seo_code = rng.choice([700000, 730000, 750000, 770000, 780000], size=n) + rng.integers(0, 99, size=n) * 100

    # Team: one lead chief investigator plus others with roles.
    team_size = 1 + rng.poisson(1.6, size=n)
    people_rows = []
    lead = {k: [] for k in ["birth", "country", "phd", "years", "dept", "faculty", "won", "lost", "a_star", "a", "b", "c"]}
    person_pool = 4500
    for app_id, size in zip(ids, team_size):
        members = rng.choice(person_pool, size=size, replace=False) + 100000
        for k, person in enumerate(members):
            prng = np.random.default_rng([seed, int(person)])  # a person has the same profile in every team
            birth = int(prng.integers(1940, 1985) // 5 * 5)
            phd = "Yes" if prng.random() < 0.65 else None
            country = COUNTRIES[min(int(prng.exponential(1.2)), len(COUNTRIES) - 1)]
            years = ["<5", ">=0 to 5", ">5 to 10", ">10 to 15", "more than 15"][int(prng.integers(0, 5))]
            dept, faculty = int(prng.integers(2000, 3500)), int(prng.integers(1, 40))
            won, lost = int(prng.poisson(1.5)), int(prng.poisson(2.5))
            pubs = prng.poisson([1.0, 3.0, 3.0, 1.5]) * (prng.random() < 0.8)
            role = ROLES[0] if k == 0 else ROLES[int(rng.choice(5, p=[0.35, 0.35, 0.1, 0.12, 0.08]))]
            people_rows.append(
                dict(application_id=app_id, person_id=int(person), role=role, year_of_birth=birth,
                     country_of_birth=country, with_phd=phd, years_in_uni=years, dept_no=dept,
                     faculty_no=faculty, successful_grants=won, unsuccessful_grants=lost,
                     pubs_a_star=int(pubs[0]), pubs_a=int(pubs[1]), pubs_b=int(pubs[2]), pubs_c=int(pubs[3]))
            )
            if k == 0:
                for key, v in zip(lead, [birth, country, phd, years, dept, faculty, won, lost, *pubs]):
                    lead[key].append(v)
    lead = {k: np.array(v, dtype=object if k in ("country", "phd", "years") else float) for k, v in lead.items()}

    logit = (
        -0.4 + sponsor_effect + category_effect + month_effect
        + 0.55 * np.log1p(lead["won"]) - 0.35 * np.log1p(lead["lost"])
        + 0.25 * np.log1p(lead["a_star"] + lead["a"]) + 0.4 * (lead["phd"] == "Yes")
        - 0.12 * band_idx + 0.15 * (team_size > 2)
    )
    granted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    grants = pd.DataFrame({
        "application_id": ids,
        "start_date": start.strftime("%d/%m/%Y"),
        "sponsor_code": sponsor,
        "grant_category": category.astype(object),
        "contract_value_band": value_band.astype(object),
        "rfcd_code": rfcd_code.astype(float),
        "rfcd_percentage": rfcd_pct.astype(float),
        "seo_code": seo_code,
        "team_size": team_size,
        "lead_year_of_birth": lead["birth"],
        "lead_country_of_birth": lead["country"],
        "lead_with_phd": lead["phd"],
        "lead_years_in_uni": lead["years"],
        "lead_successful_grants": lead["won"].astype(int),
        "lead_unsuccessful_grants": lead["lost"].astype(int),
        "pubs_a_star": lead["a_star"].astype(int),
        "pubs_a": lead["a"].astype(int),
        "pubs_b": lead["b"].astype(int),
        "pubs_c": lead["c"].astype(int),
        "granted": granted,
    })

    # Realistic dirt, applied after the target so the signal stays in the clean values.
    def holes(col, share):
        grants.loc[rng.random(n) < share, col] = None

    holes("sponsor_code", 0.05)
    holes("contract_value_band", 0.08)
    holes("rfcd_code", 0.03)
    grants.loc[grants["rfcd_code"].isna(), "rfcd_percentage"] = None
    holes("lead_year_of_birth", 0.10)
    holes("lead_country_of_birth", 0.06)
    holes("lead_years_in_uni", 0.12)
    for clean, variants in CATEGORY_SPELLINGS.items():
        rows = np.flatnonzero((grants["grant_category"] == clean).to_numpy() & (rng.random(n) < 0.12))
        grants.loc[rows, "grant_category"] = rng.choice(variants, size=len(rows))
    outliers = rng.choice(n, size=6, replace=False)
    grants.loc[outliers[:3], "pubs_a"] = [187, 240, 312]  # a data-entry slip or a prolific lab
    grants.loc[outliers[3:], "lead_year_of_birth"] = [1900.0, 1905.0, 2010.0]  # impossible ages
    grants["lead_year_of_birth"] = grants["lead_year_of_birth"].astype("Int64")
    grants["rfcd_code"] = grants["rfcd_code"].astype("Int64")
    grants["rfcd_percentage"] = grants["rfcd_percentage"].astype("Int64")

    people = pd.DataFrame(people_rows)
    return grants, people


def main():
    grants, people = generate()
    write_csvs(__doc__, {"grants.csv": grants, "grant_people.csv": people})


if __name__ == "__main__":
    main()
