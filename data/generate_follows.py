"""Generate the course's follower graph, deterministically: a few hubs, communities, many low-degree accounts.

follows.csv has one row per "src follows dst"; accounts.csv one row per account. Every column is
documented in data/README.md. Run: python data/generate_follows.py [--out DIR]
"""

import numpy as np
import pandas as pd
from generator_cli import write_csvs

SEED = 2014
N_ACCOUNTS = 600
COMMUNITIES = ["data", "ml", "web", "devops", "stats", "design"]


def generate(seed=SEED, n=N_ACCOUNTS):
    """Return (accounts, follows) as pandas DataFrames."""
    rng = np.random.default_rng(seed)
    community = rng.integers(0, len(COMMUNITIES), size=n)
    # Popularity is heavy-tailed: a few hubs attract most follows (preferential attachment, roughly).
    popularity = rng.pareto(1.3, size=n) + 0.05
    hubs = np.argsort(-popularity)[:6]
    activity = rng.poisson(4, size=n)  # how many accounts each one follows
    activity[rng.random(n) < 0.06] = 0  # lurkers follow nobody: dangling nodes for PageRank
    edges = set()
    for src in range(n):
        same = np.flatnonzero(community == community[src])
        for _ in range(activity[src]):
            pool = same if rng.random() < 0.8 else np.arange(n)
            weights = popularity[pool] / popularity[pool].sum()
            dst = int(rng.choice(pool, p=weights))
            if dst != src:
                edges.add((src, dst))
        if rng.random() < 0.3:  # following a hub of any community is common
            dst = int(rng.choice(hubs))
            if dst != src:
                edges.add((src, dst))
    accounts = pd.DataFrame({
        "id": np.arange(n),
        "handle": [f"@{COMMUNITIES[c]}_{i:03d}" for i, c in enumerate(community)],
        "community": [COMMUNITIES[c] for c in community],
    })
    follows = pd.DataFrame(sorted(edges), columns=["src", "dst"])
    return accounts, follows


def main():
    accounts, follows = generate()
    write_csvs(__doc__, {"accounts.csv": accounts, "follows.csv": follows})


if __name__ == "__main__":
    main()
