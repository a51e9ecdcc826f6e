"""Process-level plumbing: clocks, named tasks, signals."""
