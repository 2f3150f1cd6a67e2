r"""Writes configs/ from the published family table (`export.core.family`).

  python -m export.family            # (re)write configs/*.yaml
  python -m export.family --check    # exit 1 if configs/ differs
"""

import sys

from absl import flags

from export.cli import common as cli
from export.core import config as config_lib
from export.core import family


def define_flags():
  flags.DEFINE_string("configs_dir", config_lib.CONFIGS_DIR,
                      "Where the configs go.")
  flags.DEFINE_bool("check", False, "Only check that configs_dir is "
                    "up to date; exit 1 (listing the files) if not.")


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  directory = flags.FLAGS.configs_dir
  if flags.FLAGS.check:
    stale = family.differences(directory)
    if stale:
      print(f"{directory}: not what `python -m export.family` generates: "
            + ", ".join(stale), file=sys.stderr)
      return cli.EXIT_FAILURE
    print(f"{directory}: {len(family.configs())} configs up to date")
    return cli.EXIT_OK
  family.write(directory)
  print(f"{directory}: wrote {len(family.configs())} configs")
  return cli.EXIT_OK


if __name__ == "__main__":
  define_flags()
  cli.run(main)
