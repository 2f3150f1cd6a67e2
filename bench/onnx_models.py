r"""ONNX Runtime latency at batch 1 vs the SavedModel and the Lite file;
export seconds and file size of each ONNX model.

  .venv/bin/python bench/onnx_models.py [--rounds 7] [--iterations 20]

For MobileNet V1 0.25/128, V1 1.0/224 and V2 1.0/224, float and quantized
(their `_quant` configs): exports, from synthetic checkpoints and through
the runner as `export.one` does, the version 5 classification SavedModel,
the `default` Lite files and the classification ONNX models (float, and the
uint8 QDQ ones converted from the quantized Lite files), then times one
image at a time in the same process, rounds alternating between:

* ONNX Runtime (CPU execution provider, its default graph optimizations,
  which fuse the QDQ groups into integer kernels) with 1 and 2 intra-op
  threads;
* LiteRT with its default XNNPACK delegate, 2 threads;
* the SavedModel's `serving_default` signature (TensorFlow, all cores).

The JSON gives each candidate's median milliseconds per image, ratios to
the SavedModel, and per ONNX model: the runner's seconds for it (writing
it, the full checker and packing; a quantized one's conversion from the Lite
file the same task wrote just before it) and its bytes per parameter.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

VARIANTS = ("v1_025_128", "v1_100_224", "v2_100_224")

from bench import lite as lite_bench  # pylint: disable=g-import-not-at-top,wrong-import-position
from bench import timing  # pylint: disable=g-import-not-at-top,wrong-import-position


def _ort_runner(path, threads, images):
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  options = ort.SessionOptions()
  options.intra_op_num_threads = threads
  options.inter_op_num_threads = 1
  session = ort.InferenceSession(path, options,
                                 providers=["CPUExecutionProvider"])
  return lambda: session.run(None, {"images": images})


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--iterations", type=int, default=20)
  parser.add_argument("--variants", default=",".join(VARIANTS))
  args = parser.parse_args()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import onnxruntime  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from export.core import architecture  # pylint: disable=g-import-not-at-top
  from export.core import config  # pylint: disable=g-import-not-at-top
  from export.pipeline import runner  # pylint: disable=g-import-not-at-top
  from export.sources import source  # pylint: disable=g-import-not-at-top
  report = {"tensorflow": tf.__version__,
            "onnxruntime": onnxruntime.__version__,
            "cores": os.cpu_count(), "batch": 1, "variants": {}}
  work = tempfile.mkdtemp(prefix="bench_onnx_")
  src = source.Source(synthetic=True, cache_dir=os.path.join(work, "cache"))
  rng = np.random.default_rng(0)
  try:
    for name in args.variants.split(","):
      configs = [config.load(name), config.load(f"{name}_quant")]
      candidates, models = {}, {}
      for cfg in configs:
        only = [m.handle for m in cfg.modules
                if m.kind == "classification" and (
                    (m.is_lite and m.variant == "default") or m.is_onnx or
                    (not cfg.quantized and m.version == 5 and
                     not m.is_onnx))]
        out = os.path.join(work, cfg.name)
        results = {r.handle: r for r in runner.export_config(
            cfg, src, out, only=only)}
        assert all(r.status == runner.EXPORTED
                   for r in results.values()), results
        size = cfg.input_size
        pixels = rng.integers(0, 256, (1, size, size, 3))
        kind = "quantized" if cfg.quantized else "float"
        params = sum(int(np.prod(shape)) for shape in
                     architecture.variable_layout(
                         cfg.architecture, cfg.depth_multiplier).values())
        for m in cfg.modules:
          if m.handle not in only:
            continue
          path = os.path.join(out, m.handle)
          if m.is_onnx:
            model = os.path.join(path, "model.onnx")
            # The quantized model's exact uint8 input: pixels / 256.
            images = (pixels / (256.0 if cfg.quantized else 255.0)).astype(
                np.float32)
            for threads in (1, 2):
              candidates[f"onnx_{kind}_{threads}_threads"] = _ort_runner(
                  model, threads, images)
            models[kind] = {
                "export_seconds": round(results[m.handle].seconds, 2),
                "of_which_packing": round(results[m.handle].pack_seconds,
                                          2),
                "bytes": os.path.getsize(model), "parameters": params,
                "bytes_per_parameter": round(os.path.getsize(model) / params,
                                             3)}
          elif m.is_lite:
            image = pixels if cfg.quantized else (pixels - 127.5) / 127.5
            candidates[f"lite_{kind}_2_threads"] = lite_bench._lite_runner(  # pylint: disable=protected-access
                os.path.join(path, "model.tflite"), 2, image)
          else:
            candidates["saved_model"] = timing.saved_model_runner(
                path, pixels / 255.0)
      medians = timing.medians(candidates, args.rounds, args.iterations)
      report["variants"][name] = {
          "ms_per_image": medians,
          "speedup_vs_saved_model": {
              k: round(medians["saved_model"] / v, 2)
              for k, v in medians.items() if k != "saved_model"},
          "onnx_models": models}
      print(json.dumps({name: report["variants"][name]}), file=sys.stderr)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=2))


if __name__ == "__main__":
  main()
