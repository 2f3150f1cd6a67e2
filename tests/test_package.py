"""The served archive (`export/publishing/package.py`), packed with ISA-L:
a standard gzip stream (Python's zlib reads it and checks its CRC), whose
tar holds exactly the module's files with normalized metadata, the same
bytes on every packing; and not a copy of what zlib would have written (the
deflate is ISA-L's), while the tar inside is the same.
"""

import gzip
import io
import os
import tarfile

import numpy as np


def _module(root):
  """A module-like directory: a float blob, a small proto-like file, a
  subdirectory."""
  os.makedirs(os.path.join(root, "variables"))
  rng = np.random.default_rng(0)
  with open(os.path.join(root, "variables", "variables.data-00000-of-00001"),
            "wb") as f:
    f.write(rng.normal(size=300_000).astype(np.float32).tobytes())
  with open(os.path.join(root, "saved_model.pb"), "wb") as f:
    f.write(b"graph " * 5000)
  return root


def test_archive_is_gzip_of_the_module_files(tmp_path):
  from export.publishing import package
  module = _module(str(tmp_path / "m"))
  archive = str(tmp_path / "out" / "m.tar.gz")
  sha256, size = package.pack(module, archive)
  with open(archive, "rb") as f:
    data = f.read()
  assert size == len(data) and sha256 == package.file_sha256(archive)
  # The gzip header: deflate, no file name, no time.
  assert data[:4] == b"\x1f\x8b\x08\x00" and data[4:8] == b"\0\0\0\0"
  tar_bytes = gzip.decompress(data)  # zlib, with its CRC32 and size checks.
  with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
    members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) == [
        "saved_model.pb", "variables",
        "variables/variables.data-00000-of-00001"]
    for member in members:
      assert (member.uid, member.gid, member.uname, member.gname,
              member.mtime) == (0, 0, "", "", 0)
      assert member.mode == (0o755 if member.isdir() else 0o644)
      if member.isfile():
        with open(os.path.join(module, member.name), "rb") as f:
          assert tar.extractfile(member).read() == f.read(), member.name
  assert package.archive_hashes(archive) == {
      name: package.file_sha256(path)
      for name, path in package.walk(module).items()}

  again = str(tmp_path / "again.tar.gz")
  assert package.pack(module, again) == (sha256, size)

  # zlib's deflate of the same tar stream is other bytes (the archives of
  # a53d844, see README "Benchmarks"), around the same tar.
  zlib_packed = gzip.compress(tar_bytes, compresslevel=9, mtime=0)
  assert zlib_packed != data
  assert gzip.decompress(zlib_packed) == tar_bytes
  # ISA-L costs a few tenths of a percent in size here.
  assert len(data) < len(zlib_packed) * 1.01
