"""`python -m export.family`: writes or checks configs/, the published
family's configs (`export.core.family`), beside any config of one's own.

Only the configs it generated (listed in `configs/.generated-by-export.family`,
`export.publishing.generated`) are replaced or removed; another file where a
generated config goes stops it, exit 2, before anything is written.
"""

import sys

from absl import flags

from export.cli import common as cli
from export.core import config as config_lib
from export.core import family

TOOL = "export.family"


def define_flags():
  flags.DEFINE_string("configs_dir", config_lib.CONFIGS_DIR,
                      "Where the configs go.")
  flags.DEFINE_bool("check", False, "Only check that configs_dir is "
                    "up to date; exit 1 (listing the files) if not.")


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  directory = flags.FLAGS.configs_dir

  def report(problems):
    print(f"{directory}: not what `python -m {TOOL}` generates (run it and "
          "commit the result): " +
          ", ".join(f"{name} ({problem})" for name, problem in problems),
          file=sys.stderr)
  return cli.generate_tree(directory, TOOL, family.configs(), "configs",
                           flags.FLAGS.check, report)

def run():
  define_flags()
  cli.run(main)
