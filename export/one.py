r"""Exports every module of one variant config (those not up to date).

  python -m export.one --config v1_050_160.yaml [--checkpoint P | --synthetic]
      [--output_dir D] [--only HANDLE ...] [--jobs N] [--force] [--dry_run]

Each module goes to `D/<handle>/`, e.g.
`D/google/imagenet/mobilenet_v1_050_160/feature_vector/3/`, built aside and
renamed into place, and is packed as `D/<handle>.tar.gz`; `D/manifest.json`
records each with its sha256, size, checkpoint sha256 and exporter version.
A module whose inputs did not change since it was exported is skipped.
Without --checkpoint the config's published archive is downloaded
(sha256-checked, cached in --cache_dir).
"""

from absl import flags

from export import cli
from export import config as config_lib
from export import exporter
from export import fetch

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None,
                    "Config file, or a file name in configs/ (e.g. "
                    "v1_050_160.yaml).")
flags.DEFINE_string("checkpoint", None,
                    "Checkpoint prefix, directory holding one, or the "
                    "published .tgz. Default: download the config's archive.")
flags.DEFINE_bool("synthetic", False,
                  "Export from a SYNTHETIC random checkpoint (offline demos "
                  "and tests), not the published weights.")
flags.DEFINE_string("output_dir", "out", "Root directory of exported modules.")
flags.DEFINE_multi_string("only", None,
                          "Export only the module with this handle "
                          "(repeatable).")
flags.DEFINE_bool("dry_run", False, "Print what would be written from what.")
cli.define_download_flags()
cli.define_run_flags(default_jobs=1)
flags.mark_flag_as_required("config")


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if FLAGS.synthetic and FLAGS.checkpoint:
    raise cli.app.UsageError("--synthetic and --checkpoint exclude each other")
  from export import runner  # pylint: disable=g-import-not-at-top
  cfg = config_lib.load(FLAGS.config)
  planned = exporter.plan(cfg, FLAGS.output_dir, FLAGS.only)
  source = runner.Source(
      synthetic=FLAGS.synthetic, checkpoint=FLAGS.checkpoint,
      cache_dir=FLAGS.cache_dir or fetch.default_cache_dir(),
      require_hashes=FLAGS.require_hashes)
  if FLAGS.dry_run:
    for p in planned:
      print(f"{p.module.handle} -> {p.dest}: "
            f"{exporter.describe(cfg, p.module)}; from {source.describe(cfg)}")
    return cli.EXIT_OK
  if FLAGS.synthetic:
    print("NOTE: exporting from a SYNTHETIC checkpoint: random weights, not "
          "the published ones.")
  results = runner.run([(cfg, planned)], source, FLAGS.output_dir,
                       jobs=FLAGS.jobs, keep_going=FLAGS.keep_going,
                       force=FLAGS.force)
  return cli.report(results)


if __name__ == "__main__":
  cli.run(main)
