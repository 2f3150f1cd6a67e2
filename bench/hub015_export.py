r"""Our TF1 Hub format writer against tensorflow-hub 0.15's own exporter.

  .venv/bin/python bench/hub015_export.py [--config v1_100_224] [--runs 5]

Exports the same TF1 module (the same Slim graph, from the same synthetic
checkpoint) two ways, each in its own venv and process, and prints JSON with
the median seconds of each (first run excluded) and the size of the graphs
each wrote (`saved_model.pb`):

* ours: `export.formats.hub_v1` via the runner, as `export.one` runs it
  (TF 2.21; packing the archive not counted);
* hub 0.15: `hub.create_module_spec(module_fn, tags_and_args)` then
  `spec.export(path, checkpoint_path=...)` in the legacy venv (TF 2.15), with
  a module_fn building the graph with the same `export.nets` builder and
  adding the same signatures and image size attachment.
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
LEGACY_PYTHON = os.path.join(REPO, ".venv-legacy", "bin", "python")


def _timed_runs(export, runs):
  """Runs export(i) -> (module directory, seconds not to count) `runs`
  times."""
  times = []
  for i in range(runs):
    start = time.perf_counter()
    module_dir, excluded = export(i)
    times.append(time.perf_counter() - start - excluded)
  return {"median_seconds": round(statistics.median(times[1:] or times), 2),
          "first_seconds": round(times[0], 2),
          "saved_model_pb_bytes": os.path.getsize(
              os.path.join(module_dir, "saved_model.pb"))}


def ours(cfg, module, prefix, out, runs):
  """Through the runner, as export.one does; packing the archive (which hub
  0.15 does not do) is not counted."""
  from export.pipeline import runner  # pylint: disable=g-import-not-at-top
  from export.sources import source  # pylint: disable=g-import-not-at-top

  def export(i):
    dest = os.path.join(out, str(i))
    [result] = runner.export_config(
        cfg, source.Source(checkpoint=prefix, cache_dir=out), dest,
        only=[module.handle])
    return os.path.join(dest, module.handle), result.pack_seconds

  return _timed_runs(export, runs)


def hub015(cfg, module, prefix, out, runs):
  """Runs in the legacy venv: tensorflow-hub 0.15's create_module_spec."""
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  from tensorflow_hub import image_module_info_pb2  # pylint: disable=g-import-not-at-top
  from export import nets  # pylint: disable=g-import-not-at-top
  from export.core import signatures
  from export.nets import common  # pylint: disable=g-import-not-at-top
  tf.disable_eager_execution()

  def module_fn(training):
    size = None if module.variable_input_size else cfg.input_size
    images = tf.placeholder(tf.float32, [None, size, size, 3])
    momentum = (tf.placeholder_with_default(
        signatures.DEFAULT_BATCH_NORM_MOMENTUM, [])
                if module.configurable_batch_norm_momentum else None)
    out = nets.build(cfg.architecture, common.scale_images(images),
                     depth_multiplier=cfg.depth_multiplier,
                     num_classes=signatures.interface(module).num_classes,
                     is_training=training, batch_norm_decay=momentum)
    outputs = {"logits": out.logits, "features": out.features}
    iface = signatures.interface(module)
    end_points = signatures.end_point_outputs(
        cfg.architecture, out.end_points, iface.num_classes)
    for name, sig in signatures.tf1_signatures(iface).items():
      inputs = {"images": images}
      if sig.bn_hparams:
        inputs["batch_norm_momentum"] = momentum
      signature_outputs = {"default": outputs[sig.output]}
      if sig.end_points:
        signature_outputs.update(end_points)
      hub.add_signature(name, inputs, signature_outputs)
    info = image_module_info_pb2.ImageModuleInfo()
    info.default_image_size.height = info.default_image_size.width = (
        cfg.input_size)
    hub.attach_image_module_info(info)

  def export(i):
    spec = hub.create_module_spec(
        module_fn, tags_and_args=[(set(), {"training": False}),
                                  ({"train"}, {"training": True})])
    spec.export(os.path.join(out, str(i)), checkpoint_path=prefix)
    return os.path.join(out, str(i))

  return _timed_runs(export, runs)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="v1_100_224")
  parser.add_argument("--kind", default="classification")
  parser.add_argument("--version", type=int, default=3)
  parser.add_argument("--runs", type=int, default=5)
  parser.add_argument("--side", choices=("both", "ours", "hub015"),
                      default="both")
  parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
  args = parser.parse_args()
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
  from export.core import config  # pylint: disable=g-import-not-at-top
  cfg = config.load(args.config)
  module = next(m for m in cfg.modules if m.kind == args.kind and
                m.version == args.version and m.format == "hub")
  if args.side != "both":  # One side, in this process.
    out = tempfile.mkdtemp(prefix="bench_hub015_")
    try:
      run = ours if args.side == "ours" else hub015
      print(json.dumps(run(cfg, module, args.checkpoint, out, args.runs)))
    finally:
      shutil.rmtree(out, ignore_errors=True)
    return
  from export.sources import synthetic as synthetic_checkpoint  # pylint: disable=g-import-not-at-top
  work = tempfile.mkdtemp(prefix="bench_hub015_")
  try:
    prefix = synthetic_checkpoint.write(cfg, os.path.join(work, "model.ckpt"))
    report = {"module": module.handle, "runs": args.runs}
    for side, python in (("ours", sys.executable), ("hub015", LEGACY_PYTHON)):
      result = subprocess.run(
          [python, os.path.abspath(__file__), "--side", side, "--config",
           args.config, "--kind", args.kind, "--version", str(args.version),
           "--runs", str(args.runs), "--checkpoint", prefix],
          capture_output=True, text=True, cwd=REPO,
          env=dict(os.environ, PYTHONPATH=REPO))
      if result.returncode != 0:
        sys.exit(f"{side} failed:\n{result.stderr[-3000:]}")
      report[side] = json.loads(result.stdout.strip().splitlines()[-1])
    report["ours_over_hub015"] = round(report["ours"]["median_seconds"] /
                                       report["hub015"]["median_seconds"], 3)
  finally:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
