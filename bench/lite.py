r"""Lite inference latency at batch 1 vs the TF SavedModel; file size vs params.

  .venv/bin/python bench/lite.py [--rounds 7] [--iterations 20]

For MobileNet V1 0.25/128, V1 1.0/224 and V2 1.0/224 (V1 float and
quantized, V2 float): exports the Lite files and the version 5
classification SavedModel from synthetic checkpoints (through the runner, as
users do), then times one image at a time in the same process, rounds
alternating between the candidates:

* LiteRT (ai-edge-litert) with its default XNNPACK delegate, 1 and 2 threads,
  float and quantized `default` files, and at 1 thread without it (TFLite's
  builtin kernels: `..._builtin`), which shows what XNNPACK adds;
* the SavedModel's `serving_default` signature (TensorFlow, all cores).

The JSON gives each candidate's median milliseconds per image, ratios to the
SavedModel, and each Lite file's size against the network's parameter count
(float32: ~4 bytes per parameter; quantized uint8: ~1).
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

from bench import timing  # pylint: disable=g-import-not-at-top,wrong-import-position


def _lite_runner(path, threads, image, xnnpack=True):
  from ai_edge_litert import interpreter as litert  # pylint: disable=g-import-not-at-top
  resolver = (litert.OpResolverType.AUTO if xnnpack else
              litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  interpreter = litert.Interpreter(model_path=path, num_threads=threads,
                                   experimental_op_resolver_type=resolver)
  interpreter.allocate_tensors()
  (inp,), (out,) = (interpreter.get_input_details(),
                    interpreter.get_output_details())
  image = image.astype(inp["dtype"])

  def run():
    interpreter.set_tensor(inp["index"], image)
    interpreter.invoke()
    return interpreter.get_tensor(out["index"])
  return run


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--iterations", type=int, default=20)
  parser.add_argument("--variants", default=",".join(VARIANTS))
  args = parser.parse_args()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import ai_edge_litert  # pylint: disable=g-import-not-at-top
  from export.core import architecture  # pylint: disable=g-import-not-at-top
  from export.core import config  # pylint: disable=g-import-not-at-top
  from export.pipeline import runner  # pylint: disable=g-import-not-at-top
  from export.sources import source  # pylint: disable=g-import-not-at-top
  report = {"tensorflow": tf.__version__,
            "ai_edge_litert": getattr(ai_edge_litert, "__version__", "?"),
            "cores": os.cpu_count(), "batch": 1, "variants": {}}
  work = tempfile.mkdtemp(prefix="bench_lite_")
  src = source.Source(synthetic=True, cache_dir=os.path.join(work, "cache"))
  rng = np.random.default_rng(0)
  try:
    for name in args.variants.split(","):
      configs = [config.load(name)]
      quant = config.CONFIGS_DIR + f"/{name}_quant.yaml"
      if os.path.exists(quant):
        configs.append(config.load(quant))
      candidates, sizes = {}, {}
      for cfg in configs:
        only = [m.handle for m in cfg.modules
                if (m.is_lite and m.variant == "default") or
                (not cfg.quantized and m.kind == "classification" and
                 m.format == config.FORMAT_SAVED_MODEL_2 and m.version == 5)]
        out = os.path.join(work, cfg.name)
        results = runner.export_config(cfg, src, out, only=only)
        assert all(r.status == runner.EXPORTED for r in results), results
        size = cfg.input_size
        pixels = rng.integers(0, 256, (1, size, size, 3))
        for m in cfg.modules:
          if m.handle not in only:
            continue
          path = os.path.join(out, m.handle)
          if m.is_lite:
            kind = "quantized" if cfg.quantized else "float"
            model = os.path.join(path, "model.tflite")
            image = pixels if cfg.quantized else (pixels - 127.5) / 127.5
            for threads in (1, 2):
              candidates[f"lite_{kind}_{threads}_threads"] = _lite_runner(
                  model, threads, image)
            candidates[f"lite_{kind}_1_threads_builtin"] = _lite_runner(
                model, 1, image, xnnpack=False)
            params = sum(int(np.prod(shape)) for shape in
                         architecture.variable_layout(
                             cfg.architecture, cfg.depth_multiplier).values())
            sizes[kind] = {"bytes": os.path.getsize(model),
                           "parameters": params,
                           "bytes_per_parameter": round(
                               os.path.getsize(model) / params, 3)}
          else:
            candidates["saved_model"] = timing.saved_model_runner(
                path, pixels / 255.0)
      medians = timing.medians(candidates, args.rounds, args.iterations)
      report["variants"][name] = {
          "ms_per_image": medians,
          "speedup_vs_saved_model": {
              k: round(medians["saved_model"] / v, 2)
              for k, v in medians.items() if k != "saved_model"},
          "lite_file": sizes}
      print(json.dumps({name: report["variants"][name]}), file=sys.stderr)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=2))


if __name__ == "__main__":
  main()
