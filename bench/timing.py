"""What the benchmarks time alike: a callable's milliseconds per call."""

import time


def milliseconds(run, iterations):
  """Milliseconds per call of `run()`, over `iterations` calls after one
  warm-up call."""
  run()
  start = time.perf_counter()
  for _ in range(iterations):
    run()
  return (time.perf_counter() - start) / iterations * 1000
