"""Generate capstone 14's grant applications in the wide shape of the Kaggle challenge, deterministically, with dirt.

Modelled on the Kaggle "Predict Grant Applications" challenge (University of Melbourne, 2011) and on
data/generate_grants.py: one row per application, a block of columns per team member (up to 15 members),
written wide as the competition shipped it. grants_wide.csv holds the training applications with their
label; grants_wide_heldout.csv the held-out applications' features; their labels go to grader/heldout/
(grants_heldout_labels.csv), where only grading reads them. Every column is documented in data/README.md.
Run: python data/generate_grants_wide.py [--out DIR] [--heldout DIR]
"""

import numpy as np
import pandas as pd
from generate_grants import COUNTRIES, ROLES, VALUE_BANDS, draw_sponsors
from generator_cli import write_csvs

SEED = 2014
N_TRAIN, N_HELDOUT = 1500, 500
MAX_MEMBERS = 15
FIRST_ID = 20001

CATEGORY_SPELLINGS = {"10A": ["10a", " 10A", "10A "], "30B": ["30b", "30 B"], "50A": ["50a", "50 A"]}
# One block of columns per member: <attribute>_<k>, k = 1..15 (member 1 is the lead chief investigator).
MEMBER_COLUMNS = ["person_id", "role", "year_of_birth", "country_of_birth", "with_phd", "dept_no", "faculty_no",
                  "successful_grants", "unsuccessful_grants", "pubs_a_star", "pubs_a", "pubs_b", "pubs_c"]


def _dirty_case(rng, value, share):
    """The same category written with other case and stray whitespace, as data-entry staff did."""
    if value is None or rng.random() >= share:
        return value
    return [value.lower(), value.upper(), f" {value}", f"{value} ", value.title()][int(rng.integers(0, 5))]


def generate(seed=SEED, n=N_TRAIN + N_HELDOUT):
    """Return the wide applications (with the label granted) as one pandas DataFrame."""
    rng = np.random.default_rng(seed)
    ids = np.arange(FIRST_ID, FIRST_ID + n)
    sponsor, sponsor_effect = draw_sponsors(rng, n, [1.1, -0.9, 0.6, -0.5, 0.8, -1.1, 0.3, 0.0, -0.6],
                                       big_weights=(10, 3), tail_weight=0.05)  # stronger sponsors than grants.csv's
    category = rng.choice(["10A", "20A", "30B", "30C", "50A"], size=n, p=[0.45, 0.1, 0.25, 0.05, 0.15])
    category_effect = pd.Series(category).map({"10A": -0.4, "20A": 0.5, "30B": 0.1, "30C": 0.3, "50A": 0.8}).to_numpy()
    band_idx = np.clip(rng.poisson(2.2, size=n), 0, 9)
    start = pd.Timestamp("2005-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365, size=n), unit="D")
    month_effect = np.where(start.month.isin([11, 12]), -1.2, 0.0) + np.where(start.month.isin([5, 6]), 0.4, 0.0)
    team_size = np.minimum(1 + rng.poisson(1.8, size=n), MAX_MEMBERS)

    blocks = {f"{c}_{k}": [None] * n for k in range(1, MAX_MEMBERS + 1) for c in MEMBER_COLUMNS}
    team = {k: np.zeros(n) for k in ("top", "phd", "won", "lost")}
    for i, size in enumerate(team_size):
        members = rng.choice(6000, size=size, replace=False) + 100000
        for k, person in enumerate(members, start=1):
            prng = np.random.default_rng([seed, int(person)])  # a person has the same profile in every team
            profile = {
                "person_id": int(person),
                "role": ROLES[0] if k == 1 else ROLES[int(rng.choice(5, p=[0.35, 0.35, 0.1, 0.12, 0.08]))],
                "year_of_birth": int(prng.integers(1940, 1985) // 5 * 5),
                "country_of_birth": COUNTRIES[min(int(prng.exponential(1.2)), len(COUNTRIES) - 1)],
                "with_phd": "Yes" if prng.random() < 0.6 else None,
                "dept_no": int(prng.integers(2000, 3500)),
                "faculty_no": int(prng.integers(1, 40)),
                "successful_grants": int(prng.poisson(1.5)),
                "unsuccessful_grants": int(prng.poisson(2.5)),
            }
            pubs = prng.poisson([1.0, 3.0, 3.0, 1.5]) * (prng.random() < 0.75)
            profile.update(zip(["pubs_a_star", "pubs_a", "pubs_b", "pubs_c"], (int(p) for p in pubs)))
            team["top"][i] += pubs[0] + pubs[1]
            team["phd"][i] += profile["with_phd"] == "Yes"
            team["won"][i] += profile["successful_grants"]
            team["lost"][i] += profile["unsuccessful_grants"]
            for c, v in profile.items():
                blocks[f"{c}_{k}"][i] = v

    logit = (
        -1.6 + 1.4 * (sponsor_effect + category_effect + month_effect)
        + 0.7 * np.log1p(team["top"]) + 2.0 * team["phd"] / team_size
        + 0.9 * np.log1p(team["won"]) - 0.7 * np.log1p(team["lost"]) - 0.15 * band_idx
    )
    granted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

    # Realistic dirt, applied after the label so the signal stays in the clean values.
    dates = np.where(rng.random(n) < 0.7, start.strftime("%d/%m/%Y"), start.strftime("%Y-%m-%d"))
    categories = category.astype(object)
    for clean, variants in CATEGORY_SPELLINGS.items():
        rows = np.flatnonzero((category == clean) & (rng.random(n) < 0.15))
        categories[rows] = rng.choice(variants, size=len(rows))
    sponsors = np.array([_dirty_case(rng, s, 0.08) for s in sponsor], dtype=object)
    sponsors[rng.random(n) < 0.04] = "NA"
    bands = np.array(VALUE_BANDS, dtype=object)[band_idx]
    bands[rng.random(n) < 0.06] = None
    bands = np.array([_dirty_case(rng, b, 0.1) for b in bands], dtype=object)
    wide = pd.DataFrame({
        "application_id": ids,
        "sponsor_code": sponsors,
        "grant_category": categories,
        "contract_value_band": bands,
        "start_date": dates,
    })
    for k in range(1, MAX_MEMBERS + 1):
        present = np.array([v is not None for v in blocks[f"person_id_{k}"]])
        for c in ("role", "country_of_birth"):
            blocks[f"{c}_{k}"] = [_dirty_case(rng, v, 0.15) for v in blocks[f"{c}_{k}"]]
        phd = np.array(blocks[f"with_phd_{k}"], dtype=object)
        phd = np.array([_dirty_case(rng, v, 0.2) for v in phd], dtype=object)
        phd[present & (phd == None) & (rng.random(n) < 0.3)] = "NA"  # noqa: E711 - elementwise on objects
        blocks[f"with_phd_{k}"] = phd
        country = np.array(blocks[f"country_of_birth_{k}"], dtype=object)
        country[present & (rng.random(n) < 0.05)] = "NA"
        blocks[f"country_of_birth_{k}"] = country
        for c, share in (("year_of_birth", 0.1), ("successful_grants", 0.06), ("unsuccessful_grants", 0.06)):
            col = pd.array(blocks[f"{c}_{k}"], dtype="Int64")
            col[present & (rng.random(n) < share)] = pd.NA
            blocks[f"{c}_{k}"] = col
    blocks = pd.DataFrame({name: (pd.array(v, dtype="Int64") if name.split("_")[0] in
                                  ("person", "dept", "faculty", "pubs") else v) for name, v in blocks.items()})
    wide = pd.concat([wide, blocks], axis=1)
    wide["granted"] = granted
    return wide


def main():
    wide = generate()
    train, heldout = wide.iloc[:N_TRAIN], wide.iloc[N_TRAIN:]
    write_csvs(__doc__, {"grants_wide.csv": train, "grants_wide_heldout.csv": heldout.drop(columns="granted")},
               heldout={"grants_heldout_labels.csv": heldout[["application_id", "granted"]]})


if __name__ == "__main__":
    main()
