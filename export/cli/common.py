"""What the command-line entry points share: flag parsing and exit statuses.

The entry points themselves (`python -m export.one`, `export.export_all`,
`export.synthetic_checkpoint`, `export.family`, `export.cards`) sit on top
of every layer; nothing below imports them or this package.

Exit status 0 on success, 2 for bad usage or a bad config (one line naming
file, key, value and what is allowed), 1 for anything else, with its cause.
"""

import contextlib
import logging as std_logging
import os
import sys
import warnings

# Before TensorFlow loads: its C++ logs (no GPU found, ...) would drown what
# the tool says; failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from export.core import config as config_lib
from export.publishing import manifest

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def report(results):
  """Prints the summary of a run (failures' causes on stderr); returns the
  exit status."""
  from export.pipeline import runner  # pylint: disable=g-import-not-at-top
  print(runner.summary(results), flush=True)
  for failure in runner.failures(results):
    print(failure, file=sys.stderr)
  failed = any(r.status != runner.EXPORTED and r.status != runner.UP_TO_DATE
               for r in results)
  return EXIT_FAILURE if failed else EXIT_OK


@contextlib.contextmanager
def native_stderr_silenced():
  """Sends what native code writes to stderr (TensorFlow's C++ start-up
  lines, which TF_CPP_MIN_LOG_LEVEL does not reach) to /dev/null while
  the block runs; Python errors still raise."""
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def parse_flags_or_exit(argv):
  """absl flag parsing, but bad usage exits 2 (absl's default is 1)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}\nPass --help for usage.", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def run(main):
  """Runs `main(argv) -> exit status`, mapping errors to exit statuses."""

  def guarded(argv):
    logging.set_verbosity(logging.WARNING)
    # Deprecation notices of the TF1 and legacy-Keras APIs that Slim is
    # built on; they say nothing about the export.
    warnings.filterwarnings("ignore", category=UserWarning)
    std_logging.getLogger("tensorflow").setLevel(std_logging.ERROR)
    try:
      return main(argv)
    except config_lib.ConfigError as e:
      print(f"error: {e}", file=sys.stderr)
      return EXIT_USAGE
    except app.UsageError as e:
      print(f"error: {e}", file=sys.stderr)
      return EXIT_USAGE
    except manifest.ManifestError as e:
      print(f"error: {e}", file=sys.stderr)
      return EXIT_FAILURE

  app.run(guarded, flags_parser=parse_flags_or_exit)
