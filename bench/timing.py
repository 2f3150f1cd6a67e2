"""What the benchmarks time alike: a callable's milliseconds per call."""

import statistics
import time


def milliseconds(run, iterations):
  """Milliseconds per call of `run()`, over `iterations` calls after one
  warm-up call."""
  run()
  start = time.perf_counter()
  for _ in range(iterations):
    run()
  return (time.perf_counter() - start) / iterations * 1000


def medians(candidates, rounds, iterations):
  """{name: median milliseconds per call} of `candidates` ({name: run}),
  timed in turn within each round, so that all share the machine's state."""
  timings = {key: [] for key in candidates}
  for _ in range(rounds):
    for key, run in candidates.items():
      timings[key].append(milliseconds(run, iterations))
  return {k: round(statistics.median(v), 3) for k, v in timings.items()}


def saved_model_runner(path, images):
  """A call of the SavedModel at `path`'s serving signature on `images`
  (float, [0, 1]), returning its output as numpy."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  serve = tf.saved_model.load(path).signatures["serving_default"]
  inputs = tf.constant(images, tf.float32)
  return lambda: serve(inputs=inputs)["output_0"].numpy()
