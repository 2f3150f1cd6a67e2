"""Packs an exported module as `<handle>.tar.gz`, the form TF Hub serves.

tensorflow-hub's compressed-module resolver downloads such an archive from
any http(s) URL and unpacks it as the module directory, so the archive holds
the module's files at its root (`saved_model.pb`, `variables/...`). The
archive is reproducible: members sorted, owners, modes and times normalized,
and no timestamp in the gzip header, so equal modules give equal bytes.
"""

import gzip
import hashlib
import os
import tarfile

ARCHIVE_SUFFIX = ".tar.gz"


def archive_path(output_dir, handle):
  return os.path.join(output_dir, handle + ARCHIVE_SUFFIX)


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
      with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
          for arcname, path in members:
            tar.add(path, arcname=arcname, recursive=False,
                    filter=_normalized)
    digest = hashlib.sha256()
    with open(tmp, "rb") as f:
      for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    size = os.path.getsize(tmp)
    os.replace(tmp, dest)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  return digest.hexdigest(), size
