"""Generate the course's film-rating data set, deterministically, with tastes that a factor model can learn.

Every user has a taste over five genres (a Dirichlet draw, so most like one or two genres a lot) and a
leniency; every film has a genre, a little of the others, a quality and a popularity. Which films a
user rates depends on both popularity and taste (people watch what they expect to like), and the
rating on taste, quality and leniency, plus noise. So a popularity baseline is good but not the best:
a low-rank model of users and films (ALS) can learn the tastes.

ratings.csv has one row per (user, film) rating, with its day and a time split: every rating after
day 300 is a test rating. Ten films come out after day 300 and ten users join after it, so the test
split has films and users that the training split never saw (the cold start). items.csv has one row
per film. Every column is documented in data/README.md. Run: python data/generate_ratings.py [--out DIR]
"""

import numpy as np
import pandas as pd
from generator_cli import write_csvs

SEED = 2016
N_USERS = 300
N_ITEMS = 200
GENRES = ["drama", "comedy", "action", "documentary", "horror"]
CUTOFF_DAY = 300  # ratings after this day are the test split
N_NEW = 10  # films released, and users joining, after the cutoff


def generate(seed=SEED, n_users=N_USERS, n_items=N_ITEMS):
    """Return (ratings, items) as pandas DataFrames."""
    rng = np.random.default_rng(seed)
    genre = rng.integers(0, len(GENRES), size=n_items)
    profile = np.eye(len(GENRES))[genre] + rng.normal(0, 0.15, size=(n_items, len(GENRES)))
    quality = rng.normal(0, 1, size=n_items)
    popularity = rng.lognormal(0, 0.8, size=n_items)
    release = np.ones(n_items, dtype=int)
    release[n_items - N_NEW:] = rng.integers(CUTOFF_DAY + 1, 340, size=N_NEW)  # the new films

    taste = rng.dirichlet(np.full(len(GENRES), 0.4), size=n_users)
    leniency = rng.normal(0, 0.4, size=n_users)
    joined = np.ones(n_users, dtype=int)
    joined[n_users - N_NEW:] = rng.integers(CUTOFF_DAY + 1, 340, size=N_NEW)  # the new users
    affinity = taste @ profile.T  # users x items, about 0..1

    rows = []
    for user in range(n_users):
        n_rated = 8 + rng.poisson(16)
        weights = popularity * np.exp(4.0 * affinity[user])
        chosen = rng.choice(n_items, size=n_rated, replace=False, p=weights / weights.sum())
        for item in chosen:
            first = max(release[item], joined[user])
            day = int(rng.integers(first, 366))
            score = 1.2 + 4.0 * affinity[user, item] + 0.5 * quality[item] + leniency[user] + rng.normal(0, 0.5)
            rows.append((user + 1, item + 1, int(np.clip(np.rint(score), 1, 5)), day))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "day"])
    ratings = ratings.sort_values(["day", "user_id", "item_id"], ignore_index=True)
    ratings["split"] = np.where(ratings.day > CUTOFF_DAY, "test", "train")
    items = pd.DataFrame({
        "item_id": np.arange(1, n_items + 1),
        "title": [f"{GENRES[g].title()} film {i + 1:03d}" for i, g in enumerate(genre)],
        "genre": [GENRES[g] for g in genre],
    })
    return ratings, items


def main():
    ratings, items = generate()
    write_csvs(__doc__, {"ratings.csv": ratings, "items.csv": items})


if __name__ == "__main__":
    main()
