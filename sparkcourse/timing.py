"""The one timing helper: every measured claim in the course, both sides timed the same way.

``measure`` runs warm-up rounds that are not kept (Python workers, the JIT, caches), then timed
rounds; a comparison takes the median of each side. ``compare`` does both sides in one call, so
no lesson can time Spark once and scikit-learn as the best of three.
"""

import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Timing:
    """Wall-clock seconds of repeated runs of one action, after warm-up runs that are not kept."""

    name: str
    runs: list = field(default_factory=list)

    @property
    def median(self):
        return statistics.median(self.runs)

    @property
    def min(self):
        return min(self.runs)

    @property
    def max(self):
        return max(self.runs)

    def __str__(self):
        return f"{self.name}: median {_fmt(self.median)} (min {_fmt(self.min)}, max {_fmt(self.max)}, {len(self.runs)} runs)"


def _fmt(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def measure(action, name="", repeats=3, warmup=1):
    """Run ``action()`` ``warmup`` times unrecorded, then ``repeats`` times timed; a Timing of the timed runs."""
    for _ in range(warmup):
        action()
    timing = Timing(name)
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timing.runs.append(time.perf_counter() - start)
    return timing


@dataclass
class Comparison:
    """Two timings of the same work done two ways, and how many times slower the first is."""

    first: Timing
    second: Timing

    @property
    def ratio(self):
        return self.first.median / self.second.median

    def __str__(self):
        return (f"{self.first}\n{self.second}\n{self.first.name} / {self.second.name}: {self.ratio:.2f}x "
                "(medians, on this machine)")


def compare(first, second, repeats=3, warmup=1):
    """Time two ways of doing the same work alike: ``first`` and ``second`` are (name, action) pairs."""
    (name_a, action_a), (name_b, action_b) = first, second
    return Comparison(measure(action_a, name_a, repeats, warmup), measure(action_b, name_b, repeats, warmup))
