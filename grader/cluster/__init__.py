"""A real Spark cluster on this machine: a standalone master, two workers and Spark Connect."""
