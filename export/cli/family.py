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
from export.publishing import generated

TOOL = "export.family"


def define_flags():
  flags.DEFINE_string("configs_dir", config_lib.CONFIGS_DIR,
                      "Where the configs go.")
  flags.DEFINE_bool("check", False, "Only check that configs_dir is "
                    "up to date; exit 1 (listing the files) if not.")


def differences(configs_dir):
  """[(file name, problem)] that a write would change in `configs_dir`."""
  return generated.compare(configs_dir, TOOL, family.configs())


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  directory = flags.FLAGS.configs_dir
  want = family.configs()
  try:
    if flags.FLAGS.check:
      problems = differences(directory)
      if problems:
        print(f"{directory}: not what `python -m export.family` generates "
              "(run it and commit the result): " +
              ", ".join(f"{name} ({problem})" for name, problem in problems),
              file=sys.stderr)
        return cli.EXIT_FAILURE
      print(f"{directory}: {len(want)} configs up to date")
      return cli.EXIT_OK
    done = generated.write(directory, TOOL, want)
  except generated.TreeError as e:
    print(f"error: {e}", file=sys.stderr)
    return cli.EXIT_USAGE
  print(f"{directory}: {len(want)} configs, {done.written} written, "
        f"{done.unchanged} unchanged; {done.removed} removed (no longer "
        "generated)")
  return cli.EXIT_OK


def run():
  define_flags()
  cli.run(main)
