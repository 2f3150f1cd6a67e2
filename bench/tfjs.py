r"""TF.js models: conversion time, file size vs params, wasm inference.

  .venv/bin/python bench/tfjs.py [--rounds 5] [--iterations 20]

For MobileNet V1 0.25/128, V1 1.0/224, V2 0.35/96 and V2 1.0/224, from
synthetic checkpoints:

* conversion: the seconds the TF.js converter takes for each kind's model
  from the TF1 inference graph (already built, as in an export of the
  config, where the TF1 modules build it), and the graph build itself;
* size: the weight shards' bytes per network parameter (float32: ~4) and
  the bytes of model.json;
* inference at batch 1: the TF.js model in Node's wasm backend (median of
  `--rounds` runs of `--iterations` images, in one Node process per round)
  next to the version 5 SavedModel's `serving_default` (TensorFlow, all
  cores), rounds alternating between the two.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("v1_025_128", "v1_100_224", "v2_035_96", "v2_100_224")
RUN_MODEL = os.path.join(REPO, "tests", "tfjs", "run_model.js")

from bench import timing  # pylint: disable=g-import-not-at-top,wrong-import-position


def _tfjs_ms(model_dir, pixels, iterations, work):
  """Median ms per image of one Node process running the model."""
  inputs = os.path.join(work, "input.bin")
  pixels.astype("float32").tofile(inputs)
  request = os.path.join(work, "request.json")
  with open(request, "w", encoding="utf-8") as f:
    json.dump(dict(model_dir=model_dir, input=inputs,
                   shape=list(pixels.shape), outputs=[],
                   results=os.path.join(work, "out"), repeat=iterations), f)
  proc = subprocess.run(["node", RUN_MODEL, request], capture_output=True,
                        text=True, check=True)
  return json.loads(proc.stdout.strip().splitlines()[-1])["median_ms"]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--iterations", type=int, default=20)
  parser.add_argument("--variants", default=",".join(VARIANTS))
  args = parser.parse_args()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from export.core import architecture  # pylint: disable=g-import-not-at-top
  from export.core import config  # pylint: disable=g-import-not-at-top
  from export.core import signatures  # pylint: disable=g-import-not-at-top
  from export.formats import hub_v1  # pylint: disable=g-import-not-at-top
  from export.formats import tfjs  # pylint: disable=g-import-not-at-top
  from export.pipeline import exporter  # pylint: disable=g-import-not-at-top
  from export.pipeline import runner  # pylint: disable=g-import-not-at-top
  from export.sources import checkpoint  # pylint: disable=g-import-not-at-top
  from export.sources import source  # pylint: disable=g-import-not-at-top
  node = subprocess.run(["node", "--version"], capture_output=True,
                        text=True, check=True).stdout.strip()
  report = {"tensorflow": tf.__version__, "node": node,
            "cores": os.cpu_count(), "batch": 1, "variants": {}}
  work = tempfile.mkdtemp(prefix="bench_tfjs_")
  src = source.Source(synthetic=True, cache_dir=os.path.join(work, "cache"))
  rng = np.random.default_rng(0)
  try:
    for name in args.variants.split(","):
      cfg = config.load(name)
      tfjs_modules = [m for m in cfg.modules if m.is_tfjs and m.version == 1]
      saved_model = next(m for m in cfg.modules if m.version == 5 and
                         m.format == config.FORMAT_SAVED_MODEL_2 and
                         m.kind == "classification")
      out = os.path.join(work, name)
      results = runner.export_config(
          cfg, src, out,
          only=[m.handle for m in tfjs_modules] + [saved_model.handle])
      assert all(r.status == runner.EXPORTED for r in results), results
      # Conversion alone, from a graph built beforehand.
      prefix = source.prepare(cfg, src).prefix
      values = checkpoint.read_values(
          prefix, exporter.group_layout(cfg, tfjs_modules))
      iface = signatures.interface(tfjs_modules[0])
      tf1 = hub_v1.writer(cfg, iface.network, values)
      start = time.perf_counter()
      tf1.graph(training=False)
      build_seconds = time.perf_counter() - start
      write = tfjs.converter(cfg, tf1)
      conversion, sizes = {}, {}
      for m in tfjs_modules:
        dest = os.path.join(work, "convert", m.handle)
        start = time.perf_counter()
        write(signatures.interface(m), dest)
        conversion[m.kind] = round(time.perf_counter() - start, 3)
        shards = sum(os.path.getsize(os.path.join(dest, f))
                     for f in os.listdir(dest) if f.endswith(".bin"))
        params = sum(int(np.prod(shape)) for shape in
                     architecture.variable_layout(
                         cfg.architecture, cfg.depth_multiplier,
                         signatures.interface(m).num_classes).values())
        sizes[m.kind] = {
            "shard_bytes": shards, "parameters": params,
            "bytes_per_parameter": round(shards / params, 3),
            "model_json_bytes": os.path.getsize(
                os.path.join(dest, tfjs.MODEL_FILE))}
      size = cfg.input_size
      pixels = rng.uniform(0, 1, (1, size, size, 3))
      classification = next(m for m in tfjs_modules
                            if m.kind == "classification")
      serve = timing.saved_model_runner(
          os.path.join(out, saved_model.handle), pixels)

      timings = {"tfjs_wasm": [], "saved_model": []}
      for _ in range(args.rounds):
        timings["tfjs_wasm"].append(_tfjs_ms(
            os.path.join(out, classification.handle), pixels,
            args.iterations, work))
        timings["saved_model"].append(timing.milliseconds(
            serve, args.iterations))
      medians = {k: round(statistics.median(v), 3)
                 for k, v in timings.items()}
      report["variants"][name] = {
          "graph_build_seconds": round(build_seconds, 3),
          "conversion_seconds": conversion,
          "files": sizes,
          "ms_per_image": medians,
          "tfjs_over_saved_model": round(
              medians["tfjs_wasm"] / medians["saved_model"], 2)}
      print(json.dumps({name: report["variants"][name]}), file=sys.stderr)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=2))


if __name__ == "__main__":
  main()
