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
  whose ECDSA signature differs each time). In an output directory, the
  manifest names the module and its config; a copy elsewhere carries
  neither in its files, so its module is `--module` (its handle or Kaggle
  handle), else the handle its path ends with (`<handle>.tar.gz`, or
  kagglehub's `.../models/<Kaggle handle>`), looked up in configs/ or
  `--config`.

Exit 0 when everything holds; 1 with one line per differing file or
failed check; 2 for a missing or unreadable input, or a key, certificate
chain or module that cannot be used (one line naming the flag), all found
before any check runs.
"""

import os
import sys
import tarfile
import tempfile

from absl import flags

from export.cli import common
from export.core import config as config_lib
from export.publishing import manifest
from export.publishing import module_check
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
  flags.DEFINE_string("module", None,
                      "--rebuild of a copy outside an output directory: "
                      "the module's handle (e.g. google/imagenet/"
                      "mobilenet_v1_050_160/feature_vector/5) or Kaggle "
                      "handle. Default: the handle its path ends with.")
  flags.DEFINE_string("config", None,
                      "With --module: the config file it is of (a model of "
                      "one's own). Default: the configs in configs/.")
  common.define_source_flags(checkpoint=True, checkpoint_dir=True,
                             use="--rebuild")


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
  return list(module_check.check(output_dir, entry).problems)


def _signature_problems(path):
  if not (FLAGS.public_key or FLAGS.certificate_chain or FLAGS.identity):
    return []
  return signing.verify(path, public_key=FLAGS.public_key,
                        certificate_chain=FLAGS.certificate_chain,
                        identity=FLAGS.identity, issuer=FLAGS.issuer)


def _kaggle_handles(cfg, module):
  """The Kaggle handles the module may be published under: the layout's,
  and without its owner (`export.kaggle --owner` moves it)."""
  from export.destinations import kaggle_layout  # pylint: disable=g-import-not-at-top
  located = kaggle_layout.locate(cfg, module)
  if located is None:
    return ()
  return located.handle, located.handle.split("/", 1)[1]


def _named_module(path):
  """(config, module) of a copy outside an output directory: `--module`,
  else the handle or Kaggle handle its path ends with.

  Raises:
    app.UsageError: no module, or more than one, fits.
  """
  configs = ([config_lib.load(FLAGS.config)] if FLAGS.config else
             config_lib.load_all())
  names = [FLAGS.module.strip("/")] if FLAGS.module else []
  if not names:  # The path's tail: `.../<handle>[.tar.gz|.tflite]`.
    parts = os.path.abspath(path).split(os.sep)
    for suffix in (package.ARCHIVE_SUFFIX,
                   *(s for _, s in package.SERVED_FILES.values())):
      if parts[-1].endswith(suffix):
        parts[-1] = parts[-1][:-len(suffix)]
    names = ["/".join(parts[i:]) for i in range(len(parts))]
  found = {}
  for cfg in configs:
    for module in cfg.modules:
      if {module.handle, *_kaggle_handles(cfg, module)} & set(names):
        found[module.handle] = (cfg, module)
  if len(found) == 1:
    return next(iter(found.values()))
  where = (f"--config {FLAGS.config}" if FLAGS.config else
           config_lib.CONFIGS_DIR)
  if found:
    raise common.app.UsageError(
        f"--rebuild: {path}: {FLAGS.module or 'its path'} fits several "
        f"modules ({', '.join(sorted(found))}); pass --module with one")
  if FLAGS.module:
    raise common.app.UsageError(
        f"--module: {FLAGS.module} is no module of {where}; expected a "
        "module handle or Kaggle handle of it (pass --config FILE for a "
        "model of one's own)")
  raise common.app.UsageError(
      f"--rebuild: {path} is not in an output directory with a "
      "manifest.json, and its path names no module: pass --module HANDLE "
      "(e.g. google/imagenet/mobilenet_v1_050_160/feature_vector/5, or its "
      "Kaggle handle), with --config FILE for a model of one's own")


def _module_files(module_dir, fmt):
  """{name in the module: (path, sha256)} of a copy's files, without its
  signature; a Lite copy's one `.tflite` file (Kaggle names it
  `<version>.tflite`) is the module's `model.tflite`."""
  files = {n: p for n, p in package.walk(module_dir).items()
           if n != signing.SIGNATURE_FILE}
  if fmt in package.SERVED_FILES and len(files) == 1:
    files = {package.SERVED_FILES[fmt][0]: next(iter(files.values()))}
  return {n: (p, package.file_sha256(p)) for n, p in files.items()}


def _rebuild_problems(cfg, module, have):
  """Files of a module (`have`, as `_module_files` gives them) that an
  export from its config and checkpoint makes otherwise."""
  with common.native_stderr_silenced():  # TensorFlow's C++ start-up lines.
    from export.pipeline import runner  # pylint: disable=g-import-not-at-top
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
  with tempfile.TemporaryDirectory(prefix="verify-rebuild-") as tmp:
    results = runner.export_config(cfg, common.source_from_flags(), tmp,
                                   only=[module.handle])
    if results[0].status != runner.EXPORTED:
      return [f"{module.handle}: rebuild failed: {results[0].error}"]
    rebuilt = {n: sha for n, (_, sha) in _module_files(
        os.path.join(tmp, module.handle), module.format).items()}
  problems = []
  for name in sorted(set(have) | set(rebuilt)):
    shown = have[name][0] if name in have else name
    if name not in have:
      problems.append(f"{shown}: missing (the rebuild has it)")
    elif name not in rebuilt:
      problems.append(f"{shown}: not in the rebuild")
    elif have[name][1] != rebuilt[name]:
      problems.append(f"{shown}: differs from the rebuild")
  return problems


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
      if entry:
        cfg = config_lib.load(entry.config)
        module = next(m for m in cfg.modules if m.handle == entry.handle)
        have = _module_files(os.path.join(output_dir, handle), module.format)
      else:
        cfg, module = _named_module(path)
        have = ({package.SERVED_FILES[module.format][0]:
                 (path, package.file_sha256(path))}
                if os.path.isfile(path) and
                not path.endswith(package.ARCHIVE_SUFFIX) else
                _module_files(module_dir, module.format))
      problems += _rebuild_problems(cfg, module, have)
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
  # Keys and certificates before any work, each with what it must be.
  try:
    if FLAGS.public_key:
      signing.check_public_key(FLAGS.public_key)
  except signing.SigningError as e:
    raise common.app.UsageError(f"--public_key: {e}") from None
  try:
    for chain in FLAGS.certificate_chain:
      signing.check_certificates(chain)
  except signing.SigningError as e:
    raise common.app.UsageError(f"--certificate_chain: {e}") from None
  if (FLAGS.module or FLAGS.config) and not FLAGS.rebuild:
    raise common.app.UsageError("--module and --config are for --rebuild")
  if FLAGS.rebuild:
    common.source_from_flags()  # Its flags' mistakes.
    for path in paths:  # Which module each is, before rebuilding any.
      if _find_output_dir(path)[0] is None:
        _named_module(path)
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
