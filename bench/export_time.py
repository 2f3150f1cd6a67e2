r"""Export time per module kind, TensorFlow's import time reported apart.

  .venv/bin/python bench/export_time.py [--runs 5]

For each kind (TF1 Hub format versions 1 and 3, TF2 SavedModel version 4,
versions 4 and 5 together (one trace), quantops; MobileNet V1 and V2 at
multiplier 1.0, 224x224), exports the same module(s) --runs times in one
process from a synthetic checkpoint and prints JSON: the median of all runs
but the first (which pays one-time tracing and import costs, reported as
first_seconds), and TensorFlow's import time, measured in fresh processes.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

KINDS = {  # name: (config, handle(s) below google/imagenet/, "+"-joined)
    "v1 tf1 classification/1": ("v1_100_224", "mobilenet_v1_100_224/classification/1"),
    "v1 tf1 classification/3": ("v1_100_224", "mobilenet_v1_100_224/classification/3"),
    "v1 tf1 feature_vector/3": ("v1_100_224", "mobilenet_v1_100_224/feature_vector/3"),
    "v1 tf2 classification/4": ("v1_100_224", "mobilenet_v1_100_224/classification/4"),
    "v1 tf2 feature_vector/4": ("v1_100_224", "mobilenet_v1_100_224/feature_vector/4"),
    "v1 tf2 classification/4+5": (
        "v1_100_224", "mobilenet_v1_100_224/classification/4+"
                      "mobilenet_v1_100_224/classification/5"),
    "v1 quantops classification/3": (
        "v1_100_224_quant", "mobilenet_v1_100_224/quantops/classification/3"),
    "v2 tf1 classification/2": ("v2_100_224", "mobilenet_v2_100_224/classification/2"),
    "v2 tf1 classification/3": ("v2_100_224", "mobilenet_v2_100_224/classification/3"),
    "v2 tf2 classification/4": ("v2_100_224", "mobilenet_v2_100_224/classification/4"),
    "v2 tf2 classification/4+5": (
        "v2_100_224", "mobilenet_v2_100_224/classification/4+"
                      "mobilenet_v2_100_224/classification/5"),
}


def tf_import_seconds(runs=3):
  code = ("import time; t = time.perf_counter(); import tensorflow; "
          "print(time.perf_counter() - t)")
  times = [float(subprocess.run([sys.executable, "-c", code], check=True,
                                capture_output=True, text=True,
                                env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
                                ).stdout) for _ in range(runs)]
  return statistics.median(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--runs", type=int, default=5)
  parser.add_argument("--kinds", default="",
                      help="comma-separated substrings of the kinds to time "
                           "(default: all)")
  args = parser.parse_args()
  report = {"tf_import_seconds": round(tf_import_seconds(), 2),
            "runs": args.runs, "kinds": {}}
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
  from export.core import config  # pylint: disable=g-import-not-at-top
  from export.pipeline import runner
  from export.sources import source
  work = tempfile.mkdtemp(prefix="bench_export_")
  synthetic = source.Source(synthetic=True,
                            cache_dir=os.path.join(work, "cache"))
  try:
    for kind, (name, handle) in KINDS.items():
      if args.kinds and not any(k in kind for k in args.kinds.split(",")):
        continue
      cfg = config.load(name)
      times, packing = [], []
      for _ in range(args.runs):
        # As export.one runs it; the time is the module's, from reading the
        # checkpoint to publishing it, then packing its archive apart.
        results = runner.export_config(
            cfg, synthetic, os.path.join(work, "out"),
            only=["google/imagenet/" + h for h in handle.split("+")],
            force=True)
        times.append(sum(r.seconds - r.pack_seconds for r in results))
        packing.append(sum(r.pack_seconds for r in results))
      report["kinds"][kind] = {
          "median_seconds": round(statistics.median(times[1:] or times), 2),
          "first_seconds": round(times[0], 2),
          "pack_median_seconds": round(statistics.median(packing), 2)}
      print(json.dumps({kind: report["kinds"][kind]}), file=sys.stderr,
            flush=True)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
