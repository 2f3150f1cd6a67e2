"""`export.verify`: is what one has what the exporter made and signed?

Each PATH is a module directory, a served archive (`.tar.gz`, `.tflite`),
or a downloaded Kaggle version; `--output_dir` alone checks every module
its manifest lists. For each:

* manifest: when the path lies in an output directory with a
  `manifest.json` that lists it, its served archive must have the recorded
  sha256 and its files the archive's bytes;
* signature (with `--public_key`, `--certificate_chain`, or Sigstore's
  `--identity`/`--issuer`): `model.sig` must verify and cover exactly the
  files there;
* `--rebuild`: the module is exported again from its config and checkpoint
  (`--synthetic`, `--checkpoint`, `--checkpoint_dir`, else the download)
  into a temporary directory and compared file by file (not `model.sig`,
  whose ECDSA signature differs each time).

Exit 0 when everything holds; 1 with one line per differing file or
failed check; 2 for a missing or unreadable input.
"""

import os
import sys
import tarfile
import tempfile

from absl import flags

from export.cli import common
from export.core import config as config_lib
from export.publishing import manifest
from export.publishing import package
from export.publishing import signing

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("output_dir", None,
                      "An export's output directory: with no PATH, check "
                      "every module its manifest lists.")
  flags.DEFINE_string("public_key", None,
                      "PEM public key the signatures must verify with.")
  flags.DEFINE_list("certificate_chain", [],
                    "PEM certificates the signing certificate must chain to.")
  flags.DEFINE_string("identity", None,
                      "Sigstore keyless: the signer's identity (e.g. an "
                      "email), with --issuer.")
  flags.DEFINE_string("issuer", None, "Sigstore keyless: the OIDC issuer.")
  flags.DEFINE_bool("rebuild", False,
                    "Export each module again and compare the bytes.")
  flags.DEFINE_bool("synthetic", False,
                    "--rebuild from SYNTHETIC checkpoints (tests, demos).")
  flags.DEFINE_string("checkpoint", None,
                      "--rebuild from this checkpoint (one config).")
  flags.DEFINE_string("checkpoint_dir", None,
                      "--rebuild from <checkpoint_dir>/<config name>/.")
  flags.DEFINE_string("cache_dir", None, "Download cache for --rebuild.")


def _find_output_dir(path):
  """(output directory, handle) of a module path inside an export's output
  directory (the nearest parent with a manifest listing it), else (None,
  None)."""
  path = os.path.abspath(path)
  for suffix in (package.ARCHIVE_SUFFIX,
                 *(s for _, s in package.SERVED_FILES.values())):
    if path.endswith(suffix):
      path = path[:-len(suffix)]
  parent = os.path.dirname(path)
  while parent != os.path.dirname(parent):
    if os.path.isfile(os.path.join(parent, manifest.FILENAME)):
      handle = os.path.relpath(path, parent).replace(os.sep, "/")
      if handle in manifest.load(parent):
        return parent, handle
    parent = os.path.dirname(parent)
  return None, None


def manifest_problems(output_dir, entry):
  """What differs between a module and its manifest entry."""
  archive = os.path.join(output_dir, entry.archive)
  module_dir = os.path.join(output_dir, entry.handle)
  for path in (archive, module_dir):
    if not os.path.exists(path):
      return [f"{path}: missing"]
  problems = []
  if package.file_sha256(archive) != entry.sha256:
    problems.append(f"{archive}: sha256 differs from the manifest's")
  recorded = package.served_hashes(archive, entry.format, entry.sha256)
  allowed = ((signing.SIGNATURE_FILE,) if entry.format in package.SERVED_FILES
             else ())
  changed, _ = package.differing_files(module_dir, recorded, allowed)
  problems += [f"{os.path.join(module_dir, name)}: differs from the "
               "manifest's archive" if name in recorded and
               os.path.exists(os.path.join(module_dir, name)) else
               f"{os.path.join(module_dir, name)}: "
               f"{'missing' if name in recorded else 'not in the archive'}"
               for name in changed]
  return problems


def _signature_problems(path):
  if not (FLAGS.public_key or FLAGS.certificate_chain or FLAGS.identity):
    return []
  return signing.verify(path, public_key=FLAGS.public_key,
                        certificate_chain=FLAGS.certificate_chain,
                        identity=FLAGS.identity, issuer=FLAGS.issuer)


def _rebuild_problems(output_dir, entry):
  """Files of the module that an export from its config and checkpoint
  makes otherwise."""
  with common.native_stderr_silenced():  # TensorFlow's C++ start-up lines.
    from export.pipeline import runner  # pylint: disable=g-import-not-at-top
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
  from export.sources import fetch  # pylint: disable=g-import-not-at-top
  from export.sources import source as source_lib  # pylint: disable=g-import-not-at-top
  cfg = config_lib.load(entry.config)
  module_dir = os.path.join(output_dir, entry.handle)
  with tempfile.TemporaryDirectory(prefix="verify-rebuild-") as tmp:
    results = runner.export_config(
        cfg, source_lib.Source(
            synthetic=FLAGS.synthetic, checkpoint=FLAGS.checkpoint,
            checkpoint_dir=FLAGS.checkpoint_dir,
            cache_dir=FLAGS.cache_dir or fetch.default_cache_dir()),
        tmp, only=[entry.handle])
    if results[0].status != runner.EXPORTED:
      return [f"{entry.handle}: rebuild failed: {results[0].error}"]
    rebuilt = {n: package.file_sha256(p)
               for n, p in package.walk(os.path.join(tmp, entry.handle))
               .items()}
  changed, _ = package.differing_files(module_dir, rebuilt,
                                       (signing.SIGNATURE_FILE,))
  return [f"{os.path.join(module_dir, name)}: differs from the rebuild"
          for name in changed]


def _extracted(archive, tmp):
  with tarfile.open(archive, "r:gz") as tar:
    tar.extractall(tmp, filter="data")
  return tmp


def check(path):
  """(problems, what was checked) of one PATH."""
  output_dir, handle = _find_output_dir(path)
  entry = manifest.load(output_dir)[handle] if output_dir else None
  problems, checked = [], []
  if entry:
    problems += manifest_problems(output_dir, entry)
    checked.append("manifest")
  module_dir = os.path.join(output_dir, handle) if entry else path
  with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
    if path.endswith(package.ARCHIVE_SUFFIX):
      module_dir = _extracted(path, tmp)
    elif os.path.isfile(path):  # A served Lite file: its module's dir.
      module_dir = os.path.join(output_dir, handle) if entry else (
          os.path.dirname(path))
    if FLAGS.public_key or FLAGS.certificate_chain or FLAGS.identity:
      problems += _signature_problems(module_dir)
      checked.append("signature")
  if FLAGS.rebuild:
    if not entry:
      problems.append(f"{path}: --rebuild needs the module's output "
                      "directory (its manifest names the config)")
    else:
      problems += _rebuild_problems(output_dir, entry)
      checked.append("rebuild")
  if not checked:
    problems.append(f"{path}: nothing to check: not in an output directory "
                    "with a manifest, and no --public_key, "
                    "--certificate_chain or --identity")
  return problems, checked


def main(argv):
  os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))
  paths = argv[1:]
  if FLAGS.output_dir and not paths:
    if not os.path.isfile(os.path.join(FLAGS.output_dir, manifest.FILENAME)):
      raise common.app.UsageError(f"--output_dir: no {manifest.FILENAME} in "
                                  f"{FLAGS.output_dir}")
    paths = [os.path.join(FLAGS.output_dir, h)
             for h in sorted(manifest.load(FLAGS.output_dir))]
  if not paths:
    raise common.app.UsageError("name a module directory, archive or "
                                "downloaded version, or --output_dir")
  for path in paths:
    if not os.path.exists(path):
      raise common.app.UsageError(f"no such file or directory: {path}")
  if FLAGS.identity and not FLAGS.issuer:
    raise common.app.UsageError("--identity needs --issuer")
  if FLAGS.public_key and not os.path.isfile(FLAGS.public_key):
    raise common.app.UsageError(f"--public_key: no such file: "
                                f"{FLAGS.public_key}")
  failed = 0
  for path in paths:
    try:
      problems, checked = check(path)
    except (OSError, tarfile.TarError) as e:
      print(f"error: {path}: cannot read it: {e}", file=sys.stderr)
      return common.EXIT_USAGE
    for problem in problems:
      print(problem)
    failed += bool(problems)
    if not problems:
      print(f"OK {path} ({', '.join(checked)})")
  if failed:
    print(f"{failed} of {len(paths)} failed", file=sys.stderr)
    return common.EXIT_FAILURE
  return common.EXIT_OK


def run():
  define_flags()
  common.run(main)
