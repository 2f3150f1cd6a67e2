"""`export.one` and `export.export_all`: one implementation, two commands.

Both plan the modules of their configs and export them through
`pipeline.runner.run`; they differ only in the table below: which configs
and checkpoints they take, and their defaults.
"""

import dataclasses
import json
import os
import sys

from absl import flags

from export.cli import common
from export.core import config as config_lib
from export.publishing import manifest
from export.publishing import signing
from export.pipeline import exporter
from export.pipeline import runner

FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Command:
  # --configs (default: all) and --checkpoint_dir, else one --config with
  # --checkpoint and --only.
  many_configs: bool
  default_jobs: int        # None: one per core.
  default_output_dir: str  # None: required.


ONE = Command(many_configs=False, default_jobs=1, default_output_dir="out")
ALL = Command(many_configs=True, default_jobs=None, default_output_dir=None)


def define_flags(command):
  """Defines the flags of `command` (each flag is defined only here)."""
  if command.many_configs:
    flags.DEFINE_list("configs", None,
                      "Config names to export (default: all in configs/).")
  else:
    flags.DEFINE_string("config", None,
                        "Config file, or a file name in configs/ (e.g. "
                        "v1_050_160.yaml).")
    flags.DEFINE_multi_string("only", None,
                              "Export only the module with this handle "
                              "(repeatable).")
    flags.mark_flag_as_required("config")
  common.define_source_flags(checkpoint=not command.many_configs,
                             checkpoint_dir=command.many_configs)
  flags.DEFINE_string("output_dir", command.default_output_dir,
                      "Root directory of exported modules.")
  if command.default_output_dir is None:
    flags.mark_flag_as_required("output_dir")
  flags.DEFINE_bool("dry_run", False,
                    "Print one line per module (its handle first) and stop.")
  flags.DEFINE_integer("jobs", command.default_jobs,
                       "Worker processes (default: one per core)."
                       if command.default_jobs is None else
                       "Worker processes.", lower_bound=1)
  flags.DEFINE_bool("keep_going", False,
                    "Export every module even after one failed (the exit "
                    "status is still 1).")
  flags.DEFINE_bool("force", False, "Re-export modules that are up to date.")
  flags.DEFINE_string("sign_key", None,
                      "Sign every module with this PEM private key (EC): "
                      "OpenSSF Model Signing, model.sig beside its files.")
  flags.DEFINE_string("sign_certificate", None,
                      "With --sign_key: the key's PEM signing certificate.")
  flags.DEFINE_list("sign_certificate_chain", [],
                    "With --sign_certificate: PEM certificates up to a root.")
  flags.DEFINE_string("summary_json", None,
                      "Also write the run's results to this file, as JSON "
                      "(see runner.summary_data).")


def _plans(command):
  if not command.many_configs:
    cfg = config_lib.load(FLAGS.config)
    return [(cfg, exporter.plan(cfg, FLAGS.output_dir, FLAGS.only))]
  configs = ([config_lib.load(name) for name in FLAGS.configs]
             if FLAGS.configs else config_lib.load_all())
  return [(cfg, exporter.plan(cfg, FLAGS.output_dir)) for cfg in configs]


def _signer():
  """The Signer of the --sign_* flags, or None."""
  if not FLAGS.sign_key:
    if FLAGS.sign_certificate or FLAGS.sign_certificate_chain:
      raise common.app.UsageError("--sign_certificate needs --sign_key, its "
                                  "private key")
    return None
  for flag in ("sign_key", "sign_certificate"):
    path = FLAGS[flag].value
    if path and not os.path.isfile(path):
      raise common.app.UsageError(f"--{flag}: no such file: {path}")
  for path in FLAGS.sign_certificate_chain:
    if not os.path.isfile(path):
      raise common.app.UsageError(f"--sign_certificate_chain: no such file: "
                                  f"{path}")
  signer = signing.Signer(
      key=FLAGS.sign_key, certificate=FLAGS.sign_certificate,
      certificate_chain=tuple(FLAGS.sign_certificate_chain))
  try:  # Here, not when every module fails signing.
    signer.check()
  except signing.SigningError as e:
    raise common.app.UsageError(f"--sign_{e.field}: {e}") from None
  return signer


def _write_json(path, data):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(data, f, indent=1)
    f.write("\n")
  os.replace(tmp, path)


def main(command, argv):
  if len(argv) > 1:
    raise common.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  # Under `bazel run`, relative paths mean the user's working directory.
  os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))
  plans = _plans(command)  # A bad config is said first.
  source = common.source_from_flags()
  signer = _signer()
  if FLAGS.dry_run:
    for cfg, planned in plans:
      for p in planned:
        print(f"{p.module.handle} -> {p.dest}: "
              f"{exporter.describe(cfg, p.module)}; "
              f"from {source.describe(cfg)}")
    return common.EXIT_OK
  # Before any work: where it would end up.
  common.check_writable("output_dir", FLAGS.output_dir)
  if FLAGS.summary_json:
    common.check_writable("summary_json", FLAGS.summary_json,
                          directory=False)
  manifest.load(FLAGS.output_dir)  # A foreign one stops us before anything.
  if FLAGS.synthetic:
    print("NOTE: exporting from SYNTHETIC checkpoints: random weights, not "
          "the published ones.")
  total = sum(len(planned) for _, planned in plans)
  print(f"{total} modules of {len(plans)} configs, "
        f"{FLAGS.jobs or os.cpu_count()} workers, into {FLAGS.output_dir}",
        flush=True)
  try:
    results = runner.run(plans, source, FLAGS.output_dir, jobs=FLAGS.jobs,
                         keep_going=FLAGS.keep_going, force=FLAGS.force,
                         signer=signer)
  except runner.Interrupted as e:  # Ctrl-C: what is done, what is left.
    if FLAGS.summary_json:
      _write_json(FLAGS.summary_json, runner.summary_data(e.results))
    print(runner.interrupted_summary(e.results), file=sys.stderr)
    return common.EXIT_INTERRUPTED
  if FLAGS.summary_json:
    _write_json(FLAGS.summary_json, runner.summary_data(results))
  return common.report(results)


def run(command):
  """Defines `command`'s flags and runs it; exits with its status."""
  define_flags(command)
  common.run(lambda argv: main(command, argv))



