"""What a side-by-side table shows beside the time (sparkcourse.timing): lines of code and peak memory.

Both sides of a comparison are measured by the same three helpers, so that the capstones' tables read
alike:

- ``lines_of(*functions)``: the non-blank lines of the functions' source, comments and docstrings included
  (what a reader has to read);
- ``python_peak()``: a block's peak Python allocations (``tracemalloc``; numpy and pandas buffers are
  traced too). Tracing slows Python down: time the work in a separate run, not inside this block;
- ``jvm_peak(spark)``: the peak resident memory of the local Spark JVM while a block runs, sampled every
  20 ms. Under Spark Connect (or a cluster) the JVM is elsewhere, and the figure is None.

The two memories measure different things (Python objects; a whole JVM with its heap): read each column
down, not across.
"""

import inspect
import threading
import tracemalloc

SAMPLE_S = 0.02


def lines_of(*functions):
    """The non-blank source lines of ``functions``, summed; None when a source cannot be read."""
    try:
        return sum(len([line for line in inspect.getsource(f).splitlines() if line.strip()]) for f in functions)
    except (OSError, TypeError):  # no source (a function defined where no file or cell is kept)
        return None


class python_peak:
    """``with python_peak() as peak: work()`` then ``peak.mb``: the block's peak Python allocations, in MB."""

    def __enter__(self):
        self.mb = None
        self._was_tracing = tracemalloc.is_tracing()
        if not self._was_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()
        self._start = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc):
        self.mb = round((tracemalloc.get_traced_memory()[1] - self._start) / 2**20, 1)
        if not self._was_tracing:
            tracemalloc.stop()
        return False


def local_jvm():
    """The psutil.Process of the Spark JVM this Python started (local mode), or None."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            if "java" in child.name().lower():
                return child
        except psutil.Error:
            continue
    return None


class jvm_peak:
    """``with jvm_peak() as peak: work()`` then ``peak.mb``: the local JVM's peak resident MB during the block.

    None when no local JVM is a child of this Python (Spark Connect, a cluster): its memory is not ours
    to read.
    """

    def __enter__(self):
        self.mb, self._peak, self._stop = None, 0, threading.Event()
        self._jvm = local_jvm()
        if self._jvm is not None:
            self._sample()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        try:
            self._peak = max(self._peak, self._jvm.memory_info().rss)
        except Exception:  # noqa: BLE001 - the JVM went away: keep what was seen
            pass

    def _run(self):
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def __exit__(self, *exc):
        if self._jvm is not None:
            self._stop.set()
            self._thread.join()
            self._sample()
            self.mb = round(self._peak / 2**20)
        return False
