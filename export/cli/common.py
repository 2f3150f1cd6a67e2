"""What the command-line entry points share: flag parsing and exit statuses.

The entry points themselves (`python -m export.one`, `export.export_all`,
`export.synthetic_checkpoint`, `export.family`, `export.cards`) sit on top
of every layer; nothing below imports them or this package.

Exit status 0 on success, 2 for bad usage or a bad config (one line naming
file, key, value and what is allowed), 1 for anything else, with its cause,
130 when interrupted (Ctrl-C), with one line saying so.
"""

import contextlib
import logging as std_logging
import os
import sys
import tempfile
import warnings

# Before TensorFlow loads: its C++ logs (no GPU found, ...) would drown what
# the tool says; failures still surface as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from export.core import config as config_lib
from export.publishing import generated
from export.publishing import manifest
from export.sources import fetch
from export.sources import source as source_lib

FLAGS = flags.FLAGS

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C.


def define_source_flags(checkpoint=False, checkpoint_dir=False,
                        use="Export"):
  """Defines where checkpoints come from: --synthetic, --checkpoint (one
  config) and/or --checkpoint_dir (per config), --cache_dir and
  --require_hashes; `use` says what for ("Export", "--rebuild")."""
  flags.DEFINE_bool("synthetic", False,
                    f"{use} from SYNTHETIC random checkpoints (offline "
                    "demos and tests), not the published weights.")
  if checkpoint:
    flags.DEFINE_string("checkpoint", None,
                        f"{use} from this checkpoint prefix, directory "
                        "holding one, or the published .tgz (one config). "
                        "Default: download the config's archive.")
  if checkpoint_dir:
    flags.DEFINE_string("checkpoint_dir", None,
                        f"{use} from <checkpoint_dir>/<config name>/: one "
                        "subdirectory of checkpoint per config name.")
  flags.DEFINE_string("cache_dir", None,
                      f"Download cache. Default: ${fetch.CACHE_ENV}, else a "
                      "per-user cache directory.")
  flags.DEFINE_bool("require_hashes", False,
                    "Refuse to download archives whose sha256 the config "
                    "does not pin.")


_EXPECTED_CHECKPOINT = {
    "checkpoint": "a checkpoint prefix, a directory holding one, or the "
                  "published .tgz",
    "checkpoint_dir": "a directory with one subdirectory of checkpoint per "
                      "config",
}


def source_from_flags():
  """The sources.source.Source of the flags of `define_source_flags`.

  Raises:
    app.UsageError: flags that exclude each other, or a checkpoint path
      that does not exist.
  """
  given = [f for f in _EXPECTED_CHECKPOINT if f in FLAGS and FLAGS[f].value]
  if FLAGS.synthetic:
    given.insert(0, "synthetic")
  if len(given) > 1:
    raise app.UsageError(f"--{given[0]} and --{given[1]} exclude each other")
  for flag in given:
    path = FLAGS[flag].value
    # A prefix names files `<prefix>.index` and `<prefix>.data-*`.
    if flag != "synthetic" and not (os.path.exists(path) or
                                    os.path.exists(path + ".index")):
      raise app.UsageError(f"--{flag}: no such file or directory: {path} "
                           f"(expected {_EXPECTED_CHECKPOINT[flag]})")
  return source_lib.Source(
      synthetic=FLAGS.synthetic,
      checkpoint=FLAGS.checkpoint if "checkpoint" in FLAGS else None,
      checkpoint_dir=(FLAGS.checkpoint_dir if "checkpoint_dir" in FLAGS
                      else None),
      cache_dir=FLAGS.cache_dir or fetch.default_cache_dir(),
      require_hashes=FLAGS.require_hashes)


def check_writable(flag, path, directory=True):
  """Checks that the run can write `path` (the value of --`flag`; a
  directory, else a file) before any work rather than after it: its nearest
  existing ancestor must be a directory in which a file can be made (as
  root, permission bits say nothing, so one is made and removed). Nothing
  is left behind.

  Raises:
    app.UsageError: naming the flag, the path and the cause.
  """
  expected = ("expected a directory this user can write in" if directory else
              "expected a file in a directory this user can write in")
  existing = os.path.abspath(path if directory else os.path.dirname(
      os.path.abspath(path)))
  while not os.path.lexists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing):
    where = ("" if existing == os.path.abspath(path) else
             f": {existing}")
    raise app.UsageError(f"--{flag}: {path}{where} is a file; {expected}")
  try:
    fd, probe = tempfile.mkstemp(prefix=".write-check-", dir=existing)
    os.close(fd)
    os.remove(probe)
  except OSError as e:
    raise app.UsageError(f"--{flag}: {path}: cannot write in {existing} "
                         f"({e.strerror}); {expected}") from None


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
    except KeyboardInterrupt:  # Commands that say more catch it themselves.
      print("interrupted", file=sys.stderr)
      return EXIT_INTERRUPTED

  app.run(guarded, flags_parser=parse_flags_or_exit)


def generate_tree(root, tool, want, noun, check, report):
  """What `export.cards` and `export.family` do with their tree: --check
  (`check`) compares `root` with the generated files `want` ({path: text})
  and has `report(problems)` say what differs (exit 1); else writes them
  beside whatever else is there (`publishing.generated`). A file of
  someone else's in the way is a usage error."""
  try:
    if check:
      problems = generated.compare(root, tool, want)
      if problems:
        report(problems)
        return EXIT_FAILURE
      print(f"{root}: {len(want)} {noun} up to date")
      return EXIT_OK
    done = generated.write(root, tool, want)
  except generated.TreeError as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE
  print(f"{root}: {len(want)} {noun}, {done.written} written, "
        f"{done.unchanged} unchanged; {done.removed} removed (no longer "
        "generated)")
  return EXIT_OK
