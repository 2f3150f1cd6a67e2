r"""Exports every module of one variant config.

  python -m export.one --config v1_050_160.yaml [--checkpoint P] \
      [--output_dir D] [--only HANDLE ...] [--dry_run]

Each module goes to `D/<handle>/`, e.g.
`D/google/imagenet/mobilenet_v1_050_160/feature_vector/3/`, built aside and
renamed into place. Without --checkpoint the config's published archive is
downloaded (sha256-checked, cached in --cache_dir).
"""

import sys

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
flags.DEFINE_string("output_dir", "out", "Root directory of exported modules.")
flags.DEFINE_multi_string("only", None,
                          "Export only the module with this handle "
                          "(repeatable).")
flags.DEFINE_bool("dry_run", False, "Print what would be written from what.")
cli.define_download_flags()
flags.mark_flag_as_required("config")


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cfg = config_lib.load(FLAGS.config)
  planned = exporter.plan(cfg, FLAGS.output_dir, FLAGS.only)
  source = FLAGS.checkpoint or f"{cfg.checkpoint.url} (downloaded, cached)"
  if FLAGS.dry_run:
    for p in planned:
      print(f"{p.module.handle} -> {p.dest}: "
            f"{exporter.describe(cfg, p.module)}; from {source}")
    return cli.EXIT_OK
  cache_dir = FLAGS.cache_dir or fetch.default_cache_dir()
  try:
    prefix = exporter.resolve_checkpoint(cfg, FLAGS.checkpoint, cache_dir,
                                         FLAGS.require_hashes)
    written = exporter.export_modules(cfg, prefix, planned, FLAGS.output_dir)
  except exporter.EXPORT_ERRORS as e:
    print(f"error: {cfg.name}: {e}", file=sys.stderr)
    return cli.EXIT_FAILURE
  print(f"{cfg.name}: {len(written)} modules under {FLAGS.output_dir}")
  return cli.EXIT_OK


if __name__ == "__main__":
  cli.run(main)
