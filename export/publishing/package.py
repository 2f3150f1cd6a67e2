"""Packs an exported module in the form TF Hub serves it.

Most modules are served as `<handle>.tar.gz`: tensorflow-hub's
compressed-module resolver downloads such an archive from any http(s) URL
and unpacks it as the module directory, so the archive holds the module's
files at its root (`saved_model.pb`, `variables/...`). The archive is
reproducible: members sorted, owners, modes and times normalized, and no
timestamp in the gzip header, so equal modules give equal bytes. It is
compressed by ISA-L (`isal`, pinned) rather than zlib: a twelfth of zlib's
time on these files (mostly float weights) for 0.3% more bytes. Like zlib's
version, ISA-L's code path (it picks one by CPU features) decides the
compressed bytes: a machine of another kind may pack other bytes, never
other files (`verify` checks the files).

A Lite model is served as its bare `.tflite` file (`?lite-format=tflite`;
tfhub.dev's validator wants a `.tflite` asset for Lite models), so its
"archive" is `<handle>.tflite`, the module's one file, hard-linked.
"""

import hashlib
import os
import shutil
import tarfile

from isal import igzip

from export.core import published

ARCHIVE_SUFFIX = ".tar.gz"
# ISA-L's default level ("tradeoff"): on these files as small as its level
# 3 and as fast as its level 1.
COMPRESS_LEVEL = 2
# Formats served as one file of the module: format -> (that file, suffix).
SERVED_FILES = {published.FORMAT_LITE: (published.LITE_MODEL_FILE, ".tflite")}


def archive_path(output_dir, handle, fmt=None):
  """Where the served form of module `handle` (of format `fmt`) goes."""
  suffix = SERVED_FILES[fmt][1] if fmt in SERVED_FILES else ARCHIVE_SUFFIX
  return os.path.join(output_dir, handle + suffix)


def file_sha256(path):
  """The sha256 hex digest of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def serve(module_dir, dest, fmt):
  """Writes the served form of the module in `module_dir` of format `fmt`
  to `dest` (`archive_path`), atomically.

  Returns:
    (sha256 hex digest, size in bytes) of it.
  """
  if fmt not in SERVED_FILES:
    return pack(module_dir, dest)
  source = os.path.join(module_dir, SERVED_FILES[fmt][0])
  tmp = f"{dest}.tmp-{os.getpid()}"
  try:
    link_or_copy(source, tmp)
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return file_sha256(dest), os.path.getsize(dest)


def link_or_copy(source, dest):
  """Hard-links `source` as `dest` (creating its directory), or copies it
  where hard links cannot be made (another file system)."""
  os.makedirs(os.path.dirname(dest), exist_ok=True)
  try:
    os.link(source, dest)
  except OSError:
    shutil.copyfile(source, dest)


def walk(module_dir):
  """{relative path (with /): absolute path} of the files below
  `module_dir`."""
  return {os.path.relpath(os.path.join(d, n), module_dir).replace(os.sep, "/"):
          os.path.join(d, n)
          for d, _, names in os.walk(module_dir) for n in names}


def archive_hashes(archive):
  """{member name: sha256} of the regular files in a .tar.gz."""
  hashes = {}
  with tarfile.open(archive, "r:gz") as tar:
    for member in tar:
      if member.isfile():
        digest = hashlib.sha256()
        stream = tar.extractfile(member)
        for block in iter(lambda: stream.read(1 << 20), b""):
          digest.update(block)
        hashes[member.name] = digest.hexdigest()
  return hashes


def served_hashes(archive, fmt, sha256):
  """{file name: sha256} the served form of a module holds: the archive's
  members, or a module served as one file, that file (its served form's
  `sha256`)."""
  if fmt in SERVED_FILES:
    return {SERVED_FILES[fmt][0]: sha256}
  return archive_hashes(archive)


def differing_files(module_dir, recorded, extra_allowed=()):
  """Names of the files of `module_dir` whose sha256 is not `recorded`
  ({name: sha256}), missing or added (`extra_allowed` names may be there
  unrecorded); and {name: sha256} of what is there."""
  hashes = {name: file_sha256(path)
            for name, path in walk(module_dir).items()}
  changed = sorted(n for n in set(recorded) | set(hashes)
                   if recorded.get(n) != hashes.get(n)
                   and not (n in extra_allowed and n not in recorded))
  return changed, hashes


def _normalized(info):
  info.uid = info.gid = 0
  info.uname = info.gname = ""
  info.mtime = 0
  info.mode = 0o755 if info.isdir() else 0o644
  return info


def pack(module_dir, dest):
  """Writes `module_dir`'s contents to archive `dest` (atomically).

  Returns:
    (sha256 hex digest, size in bytes) of the archive.
  """
  members = sorted(
      (os.path.relpath(os.path.join(directory, name), module_dir),
       os.path.join(directory, name))
      for directory, dirs, files in os.walk(module_dir)
      for name in dirs + files)
  os.makedirs(os.path.dirname(dest), exist_ok=True)
  tmp = f"{dest}.tmp-{os.getpid()}"
  try:
    with open(tmp, "wb") as raw:
      # mtime=0 and no file name: the gzip header carries no run-specific data.
      with igzip.IGzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=COMPRESS_LEVEL) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
          for arcname, path in members:
            tar.add(path, arcname=arcname, recursive=False,
                    filter=_normalized)
    sha256, size = file_sha256(tmp), os.path.getsize(tmp)
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return sha256, size
