"""Benchmarks: grading speed and PySpark's performance traps, measured on this machine."""
