r"""Exports every module of every config (or of the configs named).

  python -m export.export_all --output_dir=D [--configs=v1_050_160,...]
      [--checkpoint_dir=C | --synthetic] [--jobs=N] [--keep_going] [--force]
      [--dry_run]
  bazel run //export:export_all -- --output_dir=D ...

Modules are exported by --jobs worker processes (default: one per core), one
line each as they finish, then a summary table (exported / up to date /
failed, with the causes). A module whose inputs (config, checkpoint,
exporter version) did not change since it was exported is up to date and
skipped, so a rerun only exports what changed. Output: `D/<handle>/`,
`D/<handle>.tar.gz` and `D/manifest.json` (see `export.one`). The first
failure stops the run unless --keep_going; any failure exits 1.

Checkpoints: with --checkpoint_dir, each config's checkpoint is
`C/<config name>/` (a directory holding one checkpoint, or the published
archive inside it); with --synthetic, deterministic random checkpoints are
made (clearly not the published weights: for demos, tests and benchmarks);
otherwise the published archives are downloaded into the cache.
"""

import os

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
flags.DEFINE_bool("dry_run", False,
                  "Print one line per module (its handle first) and stop.")
cli.define_download_flags()
cli.define_run_flags(default_jobs=None)
flags.mark_flag_as_required("output_dir")


def _load_configs():
  if not FLAGS.configs:
    return config_lib.load_all()
  return [config_lib.load(name) for name in FLAGS.configs]


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if FLAGS.synthetic and FLAGS.checkpoint_dir:
    raise cli.app.UsageError("--synthetic and --checkpoint_dir exclude each "
                             "other")
  from export import runner  # pylint: disable=g-import-not-at-top
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
  source = runner.Source(
      synthetic=FLAGS.synthetic, checkpoint_dir=FLAGS.checkpoint_dir,
      cache_dir=FLAGS.cache_dir or fetch.default_cache_dir(),
      require_hashes=FLAGS.require_hashes)
  if FLAGS.synthetic:
    print("NOTE: exporting from SYNTHETIC checkpoints: random weights, not "
          "the published ones.")
  total = sum(len(planned) for _, planned in plans)
  print(f"{total} modules of {len(configs)} configs, {FLAGS.jobs or os.cpu_count()} "
        f"workers, into {FLAGS.output_dir}", flush=True)
  results = runner.run(plans, source, FLAGS.output_dir, jobs=FLAGS.jobs,
                       keep_going=FLAGS.keep_going, force=FLAGS.force)
  return cli.report(results)


if __name__ == "__main__":
  cli.run(main)
