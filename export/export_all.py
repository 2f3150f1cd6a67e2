r"""Exports every module of every config (or of the configs named).

  python -m export.export_all --output_dir=D [--configs=v1_050_160,...]
      [--checkpoint_dir=C | --synthetic] [--dry_run]
  bazel run //export:export_all -- --output_dir=D ...

Checkpoints: with --checkpoint_dir, each config's checkpoint is
`C/<config name>/` (a directory holding one checkpoint, or the published
archive inside it); with --synthetic, deterministic random checkpoints are
made (clearly not the published weights: for demos and tests); otherwise the
published archives are downloaded into the cache.
"""

import os
import sys

from absl import flags

from export import cli
from export import config as config_lib
from export import exporter
from export import fetch

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Root directory of exported modules.")
flags.DEFINE_list("configs", None,
                  "Config names to export (default: all in configs/).")
flags.DEFINE_string("checkpoint_dir", None,
                    "Directory with one subdirectory of checkpoint per config "
                    "name.")
flags.DEFINE_bool("synthetic", False,
                  "Export from SYNTHETIC random checkpoints (offline demos "
                  "and tests), not the published weights.")
flags.DEFINE_bool("dry_run", False, "Print one line per module and stop.")
cli.define_download_flags()
flags.mark_flag_as_required("output_dir")


def _load_configs():
  if not FLAGS.configs:
    return config_lib.load_all()
  return [config_lib.load(name) for name in FLAGS.configs]


def _checkpoint_for(cfg, cache_dir):
  if FLAGS.synthetic:
    from export import synthetic_checkpoint  # pylint: disable=g-import-not-at-top
    prefix = os.path.join(cache_dir, "synthetic", cfg.name, "model.ckpt")
    if not os.path.isfile(prefix + ".index"):
      synthetic_checkpoint.write(cfg, prefix)
    return prefix
  if FLAGS.checkpoint_dir:
    return exporter.resolve_checkpoint(
        cfg, os.path.join(FLAGS.checkpoint_dir, cfg.name), cache_dir)
  return exporter.resolve_checkpoint(cfg, None, cache_dir,
                                     FLAGS.require_hashes)


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if FLAGS.synthetic and FLAGS.checkpoint_dir:
    raise cli.app.UsageError("--synthetic and --checkpoint_dir exclude each "
                             "other")
  # Under `bazel run`, relative paths mean the user's working directory.
  os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))
  configs = _load_configs()
  plans = [(cfg, exporter.plan(cfg, FLAGS.output_dir)) for cfg in configs]
  if FLAGS.dry_run:
    for cfg, planned in plans:
      for p in planned:
        print(f"{p.module.handle} -> {p.dest}: "
              f"{exporter.describe(cfg, p.module)}")
    return cli.EXIT_OK
  if FLAGS.synthetic:
    print("NOTE: exporting from SYNTHETIC checkpoints: random weights, not "
          "the published ones.")
  cache_dir = FLAGS.cache_dir or fetch.default_cache_dir()
  failed = []
  exported = 0
  for cfg, planned in plans:
    try:
      prefix = _checkpoint_for(cfg, cache_dir)
      exported += len(exporter.export_modules(cfg, prefix, planned,
                                              FLAGS.output_dir))
    except exporter.EXPORT_ERRORS as e:
      print(f"error: {cfg.name}: {e}", file=sys.stderr)
      failed.append(cfg.name)
  print(f"{exported} modules exported under {FLAGS.output_dir}; "
        f"{len(failed)} configs failed{': ' + ', '.join(failed) if failed else ''}")
  return cli.EXIT_FAILURE if failed else cli.EXIT_OK


if __name__ == "__main__":
  cli.run(main)
