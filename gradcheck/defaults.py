"""Default settings, in a module light enough for the CLI and the pytest header to import."""

__all__ = ["DEFAULT_RTOL", "DEFAULT_ATOL", "DEFAULT_SEED", "DEFAULT_POINTS", "DEFAULT_TIMEOUT"]

# Tight enough that a claim off by a relative 1e-6 always fails; the error bounds of
# each source, not this, absorb rounding and truncation.
DEFAULT_RTOL = 1e-8
DEFAULT_ATOL = 0.0
DEFAULT_SEED = 0
DEFAULT_POINTS = 1
# Seconds a check may take. A check of a 10,000-term expression takes about 40 s; one
# that takes minutes is a pathological input, better answered without its slowest source.
DEFAULT_TIMEOUT = 60.0
