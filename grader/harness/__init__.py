"""The integrity harness: prove, for each lesson, that its exercises grade what they claim."""
