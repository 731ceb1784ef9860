"""Generate the course's visual-question data set, deterministically, with the variety of typed questions.

Modelled on the VQA challenge (Antol et al., "VQA: Visual Question Answering", 2015): short questions
people asked about pictures, each with an answer type (`yes/no`, `number`, `colour`, `other`) and an
answer. Every picture is a small made-up scene (a kitchen, a street, a beach ...) with objects, their
counts and colours, and a few people; questions are asked about it and answered from it. The wording
carries most of the signal, as in the real data: the first words give the answer type, and what is
asked about gives a strong prior on the answer (bananas are yellow, tennis courts hold rackets);
the scene decides the rest. Variety: paraphrases ("colour"/"color", "sofa"/"couch"), casing,
punctuation, doubled spaces, typos, and rare words.

``generate(seed, n)`` returns the questions and the scenes they were asked about (one row per
``image_id``): lesson 10 reads only the questions; a larger sibling (capstone 15) can call
``generate`` with a larger ``n`` and turn the scenes into image features joined by ``image_id``.
Every column is documented in data/README.md. Run: python data/generate_questions.py [--out DIR]
"""

import numpy as np
import pandas as pd
from generator_cli import write_csvs

SEED = 2015
N_QUESTIONS = 4000
TRAIN_SHARE = 0.75  # of the pictures: a picture's questions are all in one split, as in VQA

# Scenes: how often each is photographed, whether it is indoors, which objects it may hold (with
# the chance that each is in a picture), how many people it has (Poisson mean), what they do.
SCENES = {
    "kitchen": (0.13, True, {"table": 0.7, "chair": 0.6, "plate": 0.5, "cup": 0.5, "knife": 0.3, "oven": 0.5,
                             "refrigerator": 0.5, "sink": 0.6, "bowl": 0.4, "banana": 0.25, "pizza": 0.2,
                             "microwave": 0.4, "cat": 0.12, "toaster": 0.04}, 0.8, ["cooking", "standing", "eating"]),
    "living room": (0.11, True, {"sofa": 0.8, "table": 0.6, "tv": 0.6, "lamp": 0.5, "chair": 0.5, "cat": 0.3,
                                 "dog": 0.3, "book": 0.4, "remote": 0.3, "clock": 0.3, "vase": 0.06},
                    0.9, ["sitting", "watching tv", "playing"]),
    "bedroom": (0.08, True, {"bed": 0.95, "lamp": 0.6, "pillow": 0.7, "cat": 0.25, "dog": 0.15, "book": 0.3,
                             "clock": 0.3, "window": 0.6, "teddy bear": 0.05}, 0.4, ["sleeping", "sitting"]),
    "bathroom": (0.08, True, {"toilet": 0.85, "sink": 0.9, "mirror": 0.8, "towel": 0.6, "bathtub": 0.5,
                              "window": 0.3, "toothbrush": 0.25}, 0.2, ["standing"]),
    "street": (0.2, False, {"car": 0.85, "bus": 0.4, "truck": 0.4, "bicycle": 0.35, "motorcycle": 0.3,
                            "traffic light": 0.5, "sign": 0.6, "umbrella": 0.2, "dog": 0.12, "building": 0.8,
                            "sky": 0.7, "fire hydrant": 0.08, "parking meter": 0.04},
               3.0, ["walking", "standing", "crossing the street", "waiting"]),
    "park": (0.12, False, {"tree": 0.9, "bench": 0.6, "dog": 0.5, "grass": 0.9, "kite": 0.25, "frisbee": 0.3,
                           "bicycle": 0.2, "bird": 0.35, "ball": 0.2, "sky": 0.8},
             2.0, ["walking", "playing", "sitting", "running"]),
    "beach": (0.1, False, {"umbrella": 0.6, "surfboard": 0.5, "boat": 0.3, "kite": 0.35, "dog": 0.2, "bird": 0.3,
                           "sand": 0.95, "water": 0.95, "chair": 0.3, "sky": 0.9},
              2.2, ["surfing", "swimming", "walking", "sitting"]),
    "tennis court": (0.1, False, {"racket": 0.9, "ball": 0.85, "net": 0.9, "fence": 0.5, "chair": 0.2, "sky": 0.6},
                     1.6, ["playing tennis", "standing", "running"]),
    "field": (0.08, False, {"cow": 0.4, "sheep": 0.4, "horse": 0.4, "grass": 0.95, "fence": 0.6, "tree": 0.6,
                            "dog": 0.2, "sky": 0.85, "giraffe": 0.06, "zebra": 0.06, "elephant": 0.06},
              0.6, ["standing", "walking", "riding"]),
}
ANIMALS = ["dog", "cat", "bird", "cow", "sheep", "horse", "giraffe", "zebra", "elephant"]
# What people hold, by scene; and the sport played there.
HELD = {"kitchen": {"knife": 4, "plate": 3, "cup": 3, "phone": 1}, "living room": {"remote": 4, "phone": 3, "book": 2, "cup": 1},
        "bedroom": {"book": 3, "phone": 3, "pillow": 1}, "bathroom": {"toothbrush": 4, "phone": 2, "towel": 2},
        "street": {"umbrella": 4, "phone": 4, "bag": 3, "leash": 1}, "park": {"frisbee": 4, "kite": 3, "leash": 2, "ball": 2},
        "beach": {"surfboard": 5, "kite": 3, "umbrella": 2, "frisbee": 1}, "tennis court": {"racket": 9, "ball": 1},
        "field": {"rope": 2, "stick": 2, "phone": 1, "leash": 1}}
# Where a question may say the picture was taken ("What is the man holding on the beach?").
PLACES = {"kitchen": " in the kitchen", "living room": " on the couch", "bedroom": " in bed", "bathroom": " in the bathroom",
          "street": " on the street", "park": " in the park", "beach": " on the beach", "tennis court": " on the court",
          "field": " in the field"}
SPORTS = {"tennis court": {"tennis": 1}, "park": {"frisbee": 4, "soccer": 3, "baseball": 2},
          "beach": {"surfing": 5, "volleyball": 2, "frisbee": 1}}
COLOURS = ["white", "black", "red", "blue", "brown", "green", "gray", "yellow", "orange", "pink", "silver"]
# The colour an object usually has; objects not listed take the generic mix.
OBJECT_COLOURS = {
    "banana": {"yellow": 17, "green": 2, "brown": 1}, "grass": {"green": 9, "brown": 1}, "sky": {"blue": 7, "gray": 2, "white": 1},
    "water": {"blue": 8, "green": 2}, "sand": {"brown": 6, "white": 3, "yellow": 1}, "bus": {"red": 3, "yellow": 3, "white": 3, "blue": 2},
    "fire hydrant": {"red": 7, "yellow": 2, "silver": 1}, "traffic light": {"red": 5, "green": 4, "yellow": 1},
    "ball": {"yellow": 6, "white": 2, "orange": 1, "red": 1}, "car": {"white": 3, "black": 3, "silver": 2, "red": 2, "blue": 1},
    "cat": {"black": 3, "white": 2, "orange": 2, "gray": 2, "brown": 1}, "dog": {"brown": 4, "black": 3, "white": 3},
    "toilet": {"white": 19, "black": 1}, "sink": {"white": 8, "silver": 2}, "refrigerator": {"white": 5, "silver": 4, "black": 1},
    "plate": {"white": 9, "blue": 1}, "umbrella": {"red": 3, "blue": 3, "black": 2, "yellow": 1, "pink": 1},
    "surfboard": {"white": 5, "yellow": 2, "blue": 2, "red": 1}, "kite": {"red": 3, "yellow": 2, "blue": 2, "orange": 2, "pink": 1},
    "frisbee": {"white": 3, "red": 2, "orange": 2, "yellow": 2, "blue": 1}, "sofa": {"brown": 4, "gray": 3, "red": 1, "blue": 1, "white": 1},
    "bed": {"white": 6, "blue": 2, "brown": 1, "red": 1}, "towel": {"white": 7, "blue": 2, "pink": 1}, "pizza": {"red": 1, "yellow": 2, "brown": 1},
    "tree": {"green": 9, "brown": 1}, "horse": {"brown": 7, "white": 2, "black": 1}, "cow": {"black": 4, "brown": 4, "white": 2},
    "sheep": {"white": 9, "black": 1}, "elephant": {"gray": 1}, "zebra": {"white": 1, "black": 1}, "giraffe": {"brown": 3, "yellow": 1},
    "net": {"white": 5, "black": 4, "green": 1}, "fence": {"white": 3, "brown": 3, "green": 2, "gray": 2},
    "truck": {"white": 4, "red": 2, "blue": 2, "black": 1}, "boat": {"white": 7, "blue": 2, "red": 1},
}
GENERIC_COLOURS = {"white": 5, "black": 4, "brown": 3, "red": 3, "blue": 3, "gray": 2, "green": 2, "yellow": 1}
# How many of an object a picture has: 1 + Poisson(mean); things that come in herds or rows have more.
COUNT_MEANS = {"car": 2.0, "sheep": 2.5, "cow": 1.8, "bird": 1.5, "chair": 1.6, "plate": 0.8, "cup": 0.8, "book": 1.5,
               "tree": 2.5, "building": 1.5, "horse": 1.0, "umbrella": 1.0, "boat": 0.8, "pillow": 1.2, "bench": 0.5}
PLURALS = {"bus": "buses", "sheep": "sheep", "knife": "knives", "bench": "benches", "person": "people", "glass": "glasses",
           "toothbrush": "toothbrushes", "grass": "grass", "sky": "sky", "sand": "sand", "water": "water", "sofa": "sofas",
           "couch": "couches", "fire hydrant": "fire hydrants", "teddy bear": "teddy bears", "traffic light": "traffic lights",
           "parking meter": "parking meters", "tv": "tvs", "television": "televisions", "bathtub": "bathtubs"}
# Words people use for the same thing: the text varies, the object does not.
SYNONYMS = {"sofa": ["sofa", "couch"], "tv": ["tv", "television"], "bicycle": ["bicycle", "bike"],
            "refrigerator": ["refrigerator", "fridge"], "motorcycle": ["motorcycle", "motorbike"]}
UNCOUNTABLE = {"grass", "sky", "sand", "water"}
PICTURE = ["picture", "photo", "image", "picture", "pic"]
PERSON = ["man", "woman", "person", "boy", "girl", "guy", "lady"]
QUESTION_TYPES = {"yes/no": 0.38, "number": 0.13, "colour": 0.15, "other": 0.34}
KEYBOARD_NEIGHBOURS = dict(zip("abcdefghijklmnopqrstuvwxyz", [
    "qs", "vn", "xv", "sf", "wr", "dg", "fh", "gj", "uo", "hk", "jl", "k", "n", "bm", "ip", "o", "w", "et", "ad", "ry",
    "yi", "cb", "qe", "zc", "tu", "x"]))


def _pick(rng, weights):
    """One key of a {choice: weight} dict, drawn with those weights."""
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _one(rng, items):
    return items[int(rng.integers(len(items)))]


def _name(rng, obj, plural=False):
    word = _one(rng, SYNONYMS.get(obj, [obj]))
    if not plural:
        return word
    return PLURALS.get(word, word + "s")


def scene_of(rng, image_id):
    """A picture: its scene, the objects in it (count and colour of each), its people and what they do."""
    scene = _pick(rng, {name: spec[0] for name, spec in SCENES.items()})
    _, indoors, candidates, people_mean, activities = SCENES[scene]
    objects = {}
    for obj, share in candidates.items():
        if rng.random() < share:
            count = 1 if obj in UNCOUNTABLE else 1 + int(rng.poisson(COUNT_MEANS.get(obj, 0.4)))
            objects[obj] = (count, _pick(rng, OBJECT_COLOURS.get(obj, GENERIC_COLOURS)))
    people = int(rng.poisson(people_mean))
    if scene == "tennis court":
        people = int(rng.choice([1, 2, 2, 4])) if rng.random() < 0.9 else 0
    return {"image_id": image_id, "scene": scene, "indoors": indoors, "objects": objects, "people": people,
            "activity": _one(rng, activities) if people else None}


def _absent_object(rng, image):
    """Something people ask about that is not in the picture (often what other scenes hold)."""
    others = [o for name, spec in SCENES.items() for o in spec[2] if o not in image["objects"] and o not in UNCOUNTABLE]
    return _one(rng, others)


def _yes_no(rng, image):
    objects = [o for o in image["objects"] if o not in UNCOUNTABLE]
    form = _pick(rng, {"there": 5, "any": 2, "see": 2, "scene": 2, "inside": 1, "colour": 2, "people": 2})
    if form in ("there", "any", "see"):
        present = bool(objects) and rng.random() < 0.68  # people ask about what they see: "yes" is common
        obj = _one(rng, objects) if present else _absent_object(rng, image)
        where = _one(rng, [f" in the {_one(rng, PICTURE)}", "", "", f" in this {_one(rng, PICTURE)}"])
        if form == "there":
            text = _one(rng, [f"Is there a {_name(rng, obj)}{where}?", f"Is there a {_name(rng, obj)}?",
                              f"Is there any {_name(rng, obj)}{where}?"])
        elif form == "any":
            text = _one(rng, [f"Are there any {_name(rng, obj, True)}{where}?", f"Are there {_name(rng, obj, True)}?"])
        else:
            text = _one(rng, [f"Can you see a {_name(rng, obj)}?", f"Do you see a {_name(rng, obj)}{where}?",
                              f"In this {_one(rng, PICTURE)}, is there a {_name(rng, obj)}?"])
        return text, "yes" if present else "no"
    if form == "scene":
        asked = image["scene"] if rng.random() < 0.55 else _one(rng, [s for s in SCENES if s != image["scene"]])
        text = _one(rng, [f"Is this a {asked}?", f"Is this a {asked}?", f"Was this {_one(rng, PICTURE)} taken in a {asked}?"])
        return text, "yes" if asked == image["scene"] else "no"
    if form == "inside":
        text = _one(rng, [f"Is this {_one(rng, PICTURE)} taken indoors?", "Is this inside?", "Is it indoors?"])
        return text, "yes" if image["indoors"] else "no"
    if form == "colour" and objects:
        obj = _one(rng, objects)
        colour = image["objects"][obj][1]
        asked = colour if rng.random() < 0.5 else _one(rng, [c for c in COLOURS if c != colour])
        verb = "are" if image["objects"][obj][0] > 1 else "is"
        name = _name(rng, obj, verb == "are")
        return _one(rng, [f"{verb.title()} the {name} {asked}?", f"{verb.title()} the {name} {asked} in color?"]), \
            "yes" if asked == colour else "no"
    if image["people"]:
        asked = image["activity"] if rng.random() < 0.6 else _one(rng, ["sitting", "standing", "walking", "eating", "running"])
        return _one(rng, [f"Are the people {asked}?", f"Is the {_one(rng, PERSON)} {asked}?"]), \
            "yes" if asked == image["activity"] else "no"
    return _one(rng, ["Are there people in the picture?", "Is anyone here?", "Are there any people?"]), "no"


def _number(rng, image):
    countable = [o for o in image["objects"] if o not in UNCOUNTABLE]
    if image["people"] and (not countable or rng.random() < 0.4):
        if rng.random() < 0.4 and image["activity"]:
            text = f"How many people are {image['activity']}?"
        else:
            text = _one(rng, ["How many people are there?", f"How many people are in the {_one(rng, PICTURE)}?",
                              "How many people are in this picture?", "How many persons are there?"])
        return text, str(image["people"])
    if not countable:
        return _one(rng, ["How many people are there?", "How many people are in the picture?"]), "0"
    obj = _one(rng, countable)
    name = _name(rng, obj, True)
    text = _one(rng, [f"How many {name} are there?", f"How many {name} are in the {_one(rng, PICTURE)}?",
                      f"How many {name} can you see?", f"What number of {name} are there?",
                      f"How many {name} are visible?"])
    return text, str(image["objects"][obj][0])


def _colour(rng, image):
    objects = list(image["objects"])
    if not objects:
        return _other(rng, image)
    obj = _one(rng, objects)
    plural = image["objects"][obj][0] > 1 and obj not in UNCOUNTABLE
    name, verb = _name(rng, obj, plural), "are" if plural else "is"
    word = _pick(rng, {"colour": 4, "color": 6})
    text = _one(rng, [f"What {word} {verb} the {name}?", f"What {word} {verb} the {name}?", f"What is the {word} of the {name}?",
                      f"Which {word} {verb} the {name}?", f"What's the {word} of the {name}?", f"The {name} {verb} what {word}?"])
    return text, image["objects"][obj][1]


def _other(rng, image):
    scene = image["scene"]
    forms = {"where": 2, "object": 2}
    if image["indoors"]:
        forms["room"] = 3
    if image["people"]:
        forms["holding"] = 4
    if scene in SPORTS and image["people"]:
        forms["sport"] = 3
    animals = [o for o in image["objects"] if o in ANIMALS]
    if animals:
        forms["animal"] = 3
    form = _pick(rng, forms)
    place = PLACES[scene] if rng.random() < 0.5 else ""  # half the time the question says where
    if form == "room":
        text = _one(rng, ["What room is this?", "Which room is this?", "What room is shown?",
                          f"What room is this {_one(rng, PICTURE)} taken in?", "What kind of room is this?"])
        return text, scene
    if form == "holding":
        who = _one(rng, PERSON)
        text = _one(rng, [f"What is the {who} holding{place}?", f"What is the {who} holding in his hand?",
                          f"What's the {who} holding{place}?", f"What does the {who} have in their hand{place}?"])
        return text.replace("his hand", "her hand" if who in ("woman", "girl", "lady") else "his hand"), _pick(rng, HELD[scene])
    if form == "sport":
        text = _one(rng, ["What sport is this?", f"What sport is being played{place}?", f"What sport are they playing{place}?",
                          "Which sport is shown?", f"What game is being played{place}?"])
        return text, _pick(rng, SPORTS[scene])
    if form == "animal":
        animal = _one(rng, animals)
        text = _one(rng, ["What animal is this?", "What animal is in the picture?", f"What kind of animal is shown{place}?",
                          f"What animal is{place or ' in the picture'}?", f"What type of animal is this{place}?"])
        return text, animal
    if form == "object":
        objects = [o for o in image["objects"] if o not in UNCOUNTABLE]
        if objects:
            obj = _one(rng, objects)
            text = _one(rng, ["What is next to the {}?", "What is behind the {}?", "What is in front of the {}?"])
            neighbours = [o for o in objects if o != obj]
            return text.format(_name(rng, obj)), _one(rng, neighbours) if neighbours else "nothing"
    where = _one(rng, ["Where is this?", f"Where was this {_one(rng, PICTURE)} taken?", "Where is this place?",
                       "Where are they?"])
    return where, scene


TEMPLATES = {"yes/no": _yes_no, "number": _number, "colour": _colour, "other": _other}


def _typo(rng, word):
    """One slip of the fingers: two letters swapped, a letter dropped, doubled or hit next door."""
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(4))
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    neighbours = KEYBOARD_NEIGHBOURS.get(word[i].lower(), "")
    return word[:i] + (_one(rng, list(neighbours)) if neighbours else word[i]) + word[i + 1:]


def _as_typed(rng, text):
    """The question as someone typed it: typos, casing, punctuation and spaces vary."""
    words = text.rstrip("?").split(" ")
    if rng.random() < 0.08:
        long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if long_words:
            i = _one(rng, long_words)
            words[i] = _typo(rng, words[i])
    text = " ".join(words)
    case = _pick(rng, {"as is": 75, "lower": 14, "upper": 3, "title": 8})
    text = {"as is": text, "lower": text.lower(), "upper": text.upper(), "title": text.title()}[case]
    text += _pick(rng, {"?": 82, "": 8, " ?": 4, "??": 3, ".": 2, "?!": 1})
    if rng.random() < 0.03:
        words = text.split(" ")
        i = int(rng.integers(len(words)))
        text = " ".join(words[:i] + [""] + words[i:])  # a doubled space
    if rng.random() < 0.02:
        text = " " + text if rng.random() < 0.5 else text + " "
    return text


def generate(seed=SEED, n=N_QUESTIONS):
    """(questions, scenes) as pandas DataFrames: n questions about the pictures they were asked about."""
    rng = np.random.default_rng(seed)
    image_ids = np.sort(rng.choice(np.arange(1, 600_000), size=n, replace=False))  # COCO-like ids, more than needed
    rows, scenes = [], []
    for image_id in image_ids:
        if len(rows) >= n:
            break
        image = scene_of(rng, int(image_id))
        split = "train" if rng.random() < TRAIN_SHARE else "test"
        scenes.append({"image_id": int(image_id), "split": split, "scene": image["scene"], "indoors": image["indoors"],
                       "people": image["people"], "activity": image["activity"],
                       "objects": ";".join(f"{o}:{c}:{col}" for o, (c, col) in image["objects"].items())})
        asked = set()
        for k in range(min(int(1 + rng.poisson(2.2)), 9, n - len(rows))):
            answer_type = _pick(rng, QUESTION_TYPES)
            text, answer = TEMPLATES[answer_type](rng, image)
            if answer_type == "colour" and answer not in COLOURS:  # no object to ask about: an "other" question
                answer_type = "other"
            if text in asked:
                continue
            asked.add(text)
            rows.append({"question_id": int(image_id) * 10 + k, "image_id": int(image_id), "split": split,
                         "question": _as_typed(rng, text), "answer_type": answer_type, "answer": answer})
    questions = pd.DataFrame(rows, columns=["question_id", "image_id", "split", "question", "answer_type", "answer"])
    return questions, pd.DataFrame(scenes)


def main():
    questions, scenes = generate()
    write_csvs(__doc__, {"questions.csv": questions})


if __name__ == "__main__":
    main()
