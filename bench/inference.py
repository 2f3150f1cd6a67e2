r"""Images/second of exported version 4 SavedModels vs tf.keras.applications.

  .venv/bin/python bench/inference.py [--batch 32] [--rounds 7]

For MobileNet V1 and V2 at several multipliers and sizes: exports the
classification/4 module from a synthetic checkpoint, loads it with
`tf.saved_model.load` (what hub.KerasLayer does), builds
`tf.keras.applications.MobileNet` / `MobileNetV2` with the same alpha, input
size and 1001 classes (random weights), and times both on the same batch in
the same process, each as a graph function. Rounds alternate between the
two; the JSON gives the median images/second of each and their ratio.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("v1_100_224", "v1_050_160", "v1_025_128", "v2_100_224",
            "v2_035_96", "v2_140_224")


def throughput(fn, images, iterations):
  fn(images)  # Warm-up (and tracing).
  start = time.perf_counter()
  for _ in range(iterations):
    out = fn(images)
  _ = out.numpy()
  return images.shape[0] * iterations / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--iterations", type=int, default=5)
  parser.add_argument("--variants", default=",".join(VARIANTS))
  args = parser.parse_args()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from export.core import config  # pylint: disable=g-import-not-at-top
  from export.pipeline import runner
  from export.sources import source
  report = {"batch": args.batch, "keras": tf.keras.__version__,
            "tensorflow": tf.__version__, "threads": os.cpu_count(),
            "variants": {}}
  work = tempfile.mkdtemp(prefix="bench_inference_")
  try:
    for name in args.variants.split(","):
      cfg = config.load(name)
      module = next(m for m in cfg.modules
                    if m.kind == "classification" and m.version == 4)
      runner.export_config(cfg, source.Source(
          synthetic=True, cache_dir=os.path.join(work, "cache")),
                           work, only=[module.handle])
      ours = tf.saved_model.load(os.path.join(work, module.handle))
      application = (tf.keras.applications.MobileNet
                     if cfg.architecture == "mobilenet_v1"
                     else tf.keras.applications.MobileNetV2)
      keras_model = application(
          input_shape=(cfg.input_size, cfg.input_size, 3),
          alpha=cfg.depth_multiplier, weights=None, classes=1001)
      keras_fn = tf.function(lambda x, m=keras_model: m(x, training=False))
      ours_fn = tf.function(lambda x, m=ours: m(x))
      images = tf.constant(np.random.default_rng(0).uniform(
          size=(args.batch, cfg.input_size, cfg.input_size, 3)).astype(
              np.float32))
      rates = {"exported": [], "keras": []}
      for _ in range(args.rounds):
        rates["exported"].append(throughput(ours_fn, images, args.iterations))
        rates["keras"].append(throughput(keras_fn, images, args.iterations))
      result = {k: round(statistics.median(v), 1) for k, v in rates.items()}
      result["ratio"] = round(result["exported"] / result["keras"], 3)
      report["variants"][name] = result
      print(json.dumps({name: result}), file=sys.stderr, flush=True)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
