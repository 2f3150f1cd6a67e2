"""Is a module in an output directory what its manifest entry records?

One check for everything that trusts an output directory's files
(`export.verify`, `export.kaggle` before it uploads anything): the served
archive must be there with the recorded sha256, and the module's directory
must hold exactly the archive's files with the same bytes (a module served
as one file, a Lite file, may have its signature beside it).
"""

import dataclasses
import os

from export.publishing import package
from export.publishing import signing


@dataclasses.dataclass(frozen=True)
class ModuleCheck:
  problems: tuple   # One line each: "<path>: <what differs>".
  hashes: dict      # {name: sha256} of the module directory's files.


def check(output_dir, entry):
  """The ModuleCheck of module `entry` (a manifest.Entry) of `output_dir`."""
  archive = os.path.join(output_dir, entry.archive)
  module_dir = os.path.join(output_dir, entry.handle)
  for path in (archive, module_dir):
    if not os.path.exists(path):
      return ModuleCheck(problems=(f"{path}: missing",), hashes={})
  problems = []
  if package.file_sha256(archive) != entry.sha256:
    problems.append(f"{archive}: sha256 differs from the manifest's")
  recorded = package.served_hashes(archive, entry.format, entry.sha256)
  allowed = ((signing.SIGNATURE_FILE,) if entry.format in package.SERVED_FILES
             else ())
  changed, hashes = package.differing_files(module_dir, recorded, allowed)
  for name in changed:
    if name not in recorded:
      what = "not in the archive"
    elif name not in hashes:
      what = "missing"
    else:
      what = "differs from the manifest's archive"
    problems.append(f"{os.path.join(module_dir, name)}: {what}")
  return ModuleCheck(problems=tuple(problems), hashes=hashes)
