"""`python -m export.cache`: fills offline caches from an output directory.

--tfhub_cache DIR: a TFHUB_CACHE_DIR in which `hub.load` / `hub.Module` /
`hub.KerasLayer` of the modules' tfhub.dev URLs find them without a network;
--kagglehub_cache DIR: a KAGGLEHUB_CACHE in which
`kagglehub.model_download("<Kaggle handle>")` does (`export.serving.caches`).
"""

import os
import sys

from absl import flags

from export.cli import common as cli
from export.core import config as config_lib
from export.publishing import manifest
from export.serving import caches
from export.serving import catalog

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("output_dir", None,
                      "The export's output directory (manifest.json says "
                      "what it holds).")
  flags.mark_flag_as_required("output_dir")
  flags.DEFINE_string("tfhub_cache", None,
                      "tensorflow_hub's cache directory to fill "
                      "(TFHUB_CACHE_DIR).")
  flags.DEFINE_string("kagglehub_cache", None,
                      "kagglehub's cache directory to fill (KAGGLEHUB_CACHE).")
  flags.DEFINE_string("configs_dir", config_lib.CONFIGS_DIR,
                      "Where the modules' configs are.")


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  out = FLAGS.output_dir
  if not (FLAGS.tfhub_cache or FLAGS.kagglehub_cache):
    raise cli.app.UsageError("no cache to fill: expected --tfhub_cache DIR "
                             "and/or --kagglehub_cache DIR")
  if not os.path.isfile(os.path.join(out, manifest.FILENAME)):
    raise cli.app.UsageError(
        f"--output_dir: {out} has no {manifest.FILENAME}; expected the "
        "output directory of an export (python -m export.one ...)")
  for flag in ("tfhub_cache", "kagglehub_cache"):
    path = FLAGS[flag].value
    if path and os.path.exists(path) and not os.path.isdir(path):
      raise cli.app.UsageError(f"--{flag}: {path} is a file; expected a "
                               "directory (created if missing)")
  items = catalog.load(out, FLAGS.configs_dir)
  try:
    if FLAGS.tfhub_cache:
      filled = caches.fill_tfhub(items, out, FLAGS.tfhub_cache)
      print(f"{FLAGS.tfhub_cache}: {len(filled)} modules for tensorflow_hub "
            f"(TFHUB_CACHE_DIR={FLAGS.tfhub_cache})")
    if FLAGS.kagglehub_cache:
      filled = caches.fill_kagglehub(items, out, FLAGS.kagglehub_cache)
      print(f"{FLAGS.kagglehub_cache}: {len(filled)} model versions for "
            f"kagglehub (KAGGLEHUB_CACHE={FLAGS.kagglehub_cache})")
  except caches.CacheError as e:
    print(f"error: {e}", file=sys.stderr)
    return cli.EXIT_FAILURE
  return cli.EXIT_OK


def run():
  define_flags()
  cli.run(main)
