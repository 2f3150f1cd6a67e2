"""Atomic publication of exported directories.

A module is written into a staging directory inside the output directory (so
on the same file system) and renamed into place only when complete. A
destination is therefore either absent, the previous module, or the new one,
never a partial write, whenever the export is interrupted.
"""

import contextlib
import os
import shutil
import tempfile

STAGING_PREFIX = ".staging-"


@contextlib.contextmanager
def staged_directory(output_dir, relative_dest):
  """Yields a path (not yet existing) to write into; publishes it on success.

  Args:
    output_dir: the root all outputs go under.
    relative_dest: destination below `output_dir`, e.g. a module handle.
  """
  dest = os.path.join(output_dir, relative_dest)
  os.makedirs(output_dir, exist_ok=True)
  # Named with the writing process's pid: a run that starts while another
  # writes into the same output directory must not delete its staging.
  staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-",
                             dir=output_dir)
  try:
    new = os.path.join(staging, "new")
    yield new
    if not os.path.isdir(new):
      raise RuntimeError(f"nothing was written for {relative_dest}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    if os.path.exists(dest):
      # A directory cannot be renamed over a non-empty one: move the old one
      # aside first; it is deleted with the staging directory.
      os.rename(dest, os.path.join(staging, "old"))
    os.rename(new, dest)
  finally:
    shutil.rmtree(staging, ignore_errors=True)


def _writer_alive(name):
  """Whether the process that made staging directory `name` still runs."""
  pid = name[len(STAGING_PREFIX):].split("-", 1)[0]
  if not pid.isdigit():
    return False  # Made by an older version: its writer is gone.
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def remove_stale_staging(output_dir):
  """Deletes staging directories left by killed exports (not those of
  another run still writing into `output_dir`)."""
  if not os.path.isdir(output_dir):
    return
  for name in os.listdir(output_dir):
    if name.startswith(STAGING_PREFIX) and not _writer_alive(name):
      shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)
