"""What the command-line entry points share: flag parsing and exit statuses.

Exit status 0 on success, 2 for bad usage or a bad config (one line naming
file, key, value and what is allowed), 1 for anything else, with its cause.
"""

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

from export import config as config_lib

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def define_download_flags():
  """--cache_dir and --require_hashes, for the CLIs that may download."""
  from export import fetch  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string("cache_dir", None,
                      f"Download cache. Default: ${fetch.CACHE_ENV}, else a "
                      "per-user cache directory.")
  flags.DEFINE_bool("require_hashes", False,
                    "Refuse to download archives whose sha256 the config "
                    "does not pin.")


def define_run_flags(default_jobs):
  """The flags of the exporting CLIs: workers, failures, incrementality."""
  flags.DEFINE_integer("jobs", default_jobs,
                       "Worker processes (default: one per core)."
                       if default_jobs is None else "Worker processes.",
                       lower_bound=1)
  flags.DEFINE_bool("keep_going", False,
                    "Export every module even after one failed (the exit "
                    "status is still 1).")
  flags.DEFINE_bool("force", False,
                    "Re-export modules that are up to date.")


def report(results):
  """Prints the summary of a run (failures' causes on stderr); returns the
  exit status."""
  from export import runner  # pylint: disable=g-import-not-at-top
  print(runner.summary(results), flush=True)
  for failure in runner.failures(results):
    print(failure, file=sys.stderr)
  failed = any(r.status != runner.EXPORTED and r.status != runner.UP_TO_DATE
               for r in results)
  return EXIT_FAILURE if failed else EXIT_OK


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

  app.run(guarded, flags_parser=parse_flags_or_exit)
