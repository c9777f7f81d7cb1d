"""Usage: the request log, its daily rollup, and every usage figure (figures: defined once)."""
