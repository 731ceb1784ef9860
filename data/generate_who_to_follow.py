"""Generate capstone 16's who-to-follow data, deterministically: lesson 09's follower graph, the follows 120 users make next, and activity.

Starts from lesson 09's graph (generate_follows.generate(), the same accounts and follows as accounts.csv
and follows.csv). 120 accounts that follow at least 3 others are picked; each makes 3 *next* follows, mostly
(a share of 0.8) an account that the accounts it follows follow, weighted by how many of them do and by its
posts, otherwise a popular account of its community. For the 60 *validation* users these next follows are
in wtf_follows.csv, marked split=validation, so a notebook can measure its recommender; for the 60 *held-out*
users they are written only to grader/heldout/wtf_heldout_follows.csv, which only grading reads. (Holding out
some of the existing follows instead was tried: on this graph, plain popularity then beats every graph method,
and no bar could separate a recommender from the baseline.) wtf_users.csv lists the 120 users and their role;
wtf_activity.csv counts each account's posts by hour of the day over 30 days (each community has its own busy
hours; each account its own peak and volume). Every column is documented in
data/README.md. Run: python data/generate_who_to_follow.py [--out DIR] [--heldout DIR]
"""

import numpy as np
import pandas as pd
from generate_follows import COMMUNITIES
from generate_follows import generate as generate_follows
from generator_cli import write_csvs

SEED = 2016
N_USERS = 60  # validation users, and as many held-out users
MIN_FOLLOWS = 3  # a user to recommend for follows at least this many accounts in lesson 09's graph
NEW_FOLLOWS = 3  # the follows each user makes next: the ones to predict
THROUGH_FOLLOWED = 0.8  # the share of them found through the accounts the user follows
DAYS = 30
# The hour (0-23) around which each community posts most.
COMMUNITY_PEAK = {"data": 10, "ml": 15, "web": 20, "devops": 2, "stats": 8, "design": 13}


def activity(accounts, rng):
    """Posts per account and hour of the day over DAYS days: one row per (account, hour) with at least one post."""
    rows = []
    hours = np.arange(24)
    for account, community in zip(accounts.id, accounts.community):
        peak = (COMMUNITY_PEAK[community] + rng.integers(-3, 4)) % 24
        width = rng.uniform(1.5, 4.0)
        distance = np.minimum(np.abs(hours - peak), 24 - np.abs(hours - peak))
        profile = np.exp(-0.5 * (distance / width) ** 2) + 0.03
        per_day = rng.lognormal(mean=0.0, sigma=1.0)  # posts per day: most post a little, a few a lot
        posts = rng.poisson(DAYS * per_day * profile / profile.sum())
        rows.extend((int(account), int(h), int(p)) for h, p in zip(hours, posts) if p > 0)
    return pd.DataFrame(rows, columns=["account_id", "hour", "posts"])


def recent_follows(user, follows_of, popularity, community, posts, rng):
    """NEW_FOLLOWS accounts `user` follows next: mostly found through whom it follows, and active ones."""
    chosen = set()
    while len(chosen) < NEW_FOLLOWS:
        skip = follows_of.get(user, set()) | chosen | {user}
        weights = np.zeros(len(popularity))
        if rng.random() < THROUGH_FOLLOWED:  # an account that the accounts it follows follow, and that posts
            for middle in follows_of.get(user, ()):
                for target in follows_of.get(middle, ()):
                    weights[target] += 1.0
            weights *= posts
        weights[list(skip)] = 0.0
        if weights.sum() == 0:  # or as lesson 09's graph was made: a popular account of its community
            weights = popularity * (community == community[user])
            weights[list(skip)] = 0.0
        chosen.add(int(rng.choice(len(weights), p=weights / weights.sum())))
    return sorted(chosen)


def generate(seed=SEED):
    """Return (follows with split, users with role, held-out follows, activity) as pandas DataFrames."""
    rng = np.random.default_rng(seed)
    accounts, follows = generate_follows()
    assert sorted(COMMUNITY_PEAK) == sorted(COMMUNITIES)
    posts = activity(accounts, rng)
    total_posts = posts.groupby("account_id").posts.sum().reindex(accounts.id, fill_value=0).to_numpy().astype(float)
    popularity = follows.groupby("dst").size().reindex(accounts.id, fill_value=0).to_numpy().astype(float) + 0.5
    community = accounts.community.to_numpy()
    follows_of = follows.groupby("src").dst.apply(set).to_dict()
    out_degree = follows.groupby("src").size()
    eligible = np.sort(out_degree[out_degree >= MIN_FOLLOWS].index.to_numpy())
    chosen = rng.choice(eligible, size=2 * N_USERS, replace=False)
    users = pd.DataFrame({"user_id": chosen, "role": ["validation"] * N_USERS + ["heldout"] * N_USERS})
    recent = pd.DataFrame([(int(user), target, role) for user, role in zip(users.user_id, users.role)
                           for target in recent_follows(user, follows_of, popularity, community, total_posts, rng)],
                          columns=["src", "dst", "role"])
    users = users.sort_values("user_id").reset_index(drop=True)
    visible = pd.concat([follows.assign(split="known"),
                         recent[recent.role == "validation"][["src", "dst"]].assign(split="validation")])
    visible = visible.sort_values(["src", "dst"]).reset_index(drop=True)
    heldout = recent[recent.role == "heldout"][["src", "dst"]].sort_values(["src", "dst"]).reset_index(drop=True)
    return visible, users, heldout, posts


def main():
    follows, users, heldout, posts = generate()
    write_csvs(__doc__, {"wtf_follows.csv": follows, "wtf_users.csv": users, "wtf_activity.csv": posts},
               heldout={"wtf_heldout_follows.csv": heldout})


if __name__ == "__main__":
    main()
