"""Generate capstone 15's visual-question data: more questions than lesson 10's, image features, held-out questions.

The questions are lesson 10's kind (``generate_questions.generate``, another seed, more pictures): each
picture's questions are in one split (`train` or `test`), and a fifth of the pictures are held out
(their questions in vqa_heldout.csv without answers; the answers in grader/heldout/, read only by
grading). Each picture also gets a vector of 12 made-up "image features" (img_0 ... img_11), as a CNN
would give: a noisy code of the scene, of how many people are in it and of whether it is indoors. They
carry some signal about the answer (the room, the count of people), but less than the question text,
as on the real VQA data. Every column is documented in data/README.md.
Run: python data/generate_vqa.py [--out DIR] [--heldout DIR]
"""

import numpy as np
import pandas as pd
from generate_questions import SCENES, generate
from generator_cli import write_csvs

SEED = 2016
N_QUESTIONS = 4600
HELDOUT_SHARE = 0.2  # of the pictures
N_FEATURES = 12
NOISE = 1.0  # standard deviation of the noise on every feature: the code of the scene is blurred


def image_features(scenes, rng):
    """One row per picture: image_id and img_0..img_11, a noisy code of scene, people and indoors."""
    codes = {name: rng.normal(0, 1, N_FEATURES) for name in sorted(SCENES)}
    people_axis = rng.normal(0, 1, N_FEATURES)
    rows = []
    for scene in scenes.itertuples():
        signal = codes[scene.scene] + 0.6 * np.log1p(scene.people) * people_axis + 0.5 * scene.indoors
        values = signal + rng.normal(0, NOISE, N_FEATURES)
        rows.append({"image_id": scene.image_id, **{f"img_{k}": round(float(v), 4) for k, v in enumerate(values)}})
    return pd.DataFrame(rows)


def split_heldout(questions, scenes, rng):
    """(questions with answers, held-out questions without, their answers): a fifth of the pictures held out."""
    held = set(scenes.image_id[rng.random(len(scenes)) < HELDOUT_SHARE])
    is_held = questions.image_id.isin(held)
    kept = questions[~is_held].reset_index(drop=True)
    heldout = questions[is_held].reset_index(drop=True)
    return kept, heldout[["question_id", "image_id", "question"]], heldout[["question_id", "answer_type", "answer"]]


def main():
    questions, scenes = generate(seed=SEED, n=N_QUESTIONS)
    rng = np.random.default_rng(SEED + 1)
    images = image_features(scenes, rng)
    kept, heldout, answers = split_heldout(questions, scenes, rng)
    write_csvs(__doc__, {"vqa_questions.csv": kept, "vqa_images.csv": images, "vqa_heldout.csv": heldout},
               heldout={"vqa_heldout_answers.csv": answers})


if __name__ == "__main__":
    main()
