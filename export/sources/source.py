"""Where a config's checkpoint comes from, and getting it ready to read.

Exactly one of: a SYNTHETIC checkpoint (written once into the cache), a
checkpoint given on the command line (prefix, directory holding one, the
published .tgz, or a Keras model file), one per config below a directory, or
the config's published archive, downloaded through the cache (sha256-checked
when pinned) and extracted once per archive content. A Keras model file
(`.keras`, `.h5`; `keras_model`) is converted once per file content into a
checkpoint in the cache, which the pipeline then reads like any other.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time

from export.sources import checkpoint as checkpoint_lib
from export.sources import fetch
from export.sources import keras_model
from export.sources import synthetic

# What getting a checkpoint can fail with for reasons outside the program.
SOURCE_ERRORS = (checkpoint_lib.CheckpointError, fetch.FetchError, OSError)


# How long a checkpoint's files must have been unchanged for their digest to
# be remembered (`content_sha256`).
SETTLED_NS = 1_000_000_000


@dataclasses.dataclass(frozen=True)
class Source:
  """Where checkpoints come from: exactly one of the ways, or the download."""
  synthetic: bool = False
  checkpoint: str = None       # One config: prefix, directory or archive.
  checkpoint_dir: str = None   # Per config: <checkpoint_dir>/<config name>/.
  cache_dir: str = None        # Downloads, extractions, synthetic ones.
  require_hashes: bool = False

  def describe(self, cfg):
    if self.synthetic:
      return "a SYNTHETIC checkpoint (random weights)"
    if self.checkpoint:
      return self.checkpoint
    if self.checkpoint_dir:
      return os.path.join(self.checkpoint_dir, cfg.name)
    if cfg.checkpoint.path:
      return cfg.checkpoint.path
    return f"{cfg.checkpoint.url} (downloaded, cached)"


@dataclasses.dataclass(frozen=True)
class Prepared:
  prefix: str        # Checkpoint prefix, ready to read.
  sha256: str        # Of its content (checkpoint.checkpoint_sha256).
  messages: tuple    # For the user, e.g. the hash to pin of a download.


def prepare(cfg, source):
  """Gets `cfg`'s checkpoint from `source`; returns Prepared.

  Raises one of SOURCE_ERRORS naming the cause.
  """
  messages = []
  if source.synthetic:
    prefix = _synthetic_prefix(cfg, source)
    if not os.path.isfile(prefix + ".index"):
      synthetic.write(cfg, prefix)
  else:
    given = _given(cfg, source)
    prefix = resolve(cfg, given, source.cache_dir, source.require_hashes,
                      log=messages.append)
  return Prepared(prefix, content_sha256(prefix, source.cache_dir),
                  tuple(messages))


def in_place(cfg, source):
  """Prepared, if `cfg`'s checkpoint is there to read as it is (a synthetic
  one written before, a given checkpoint prefix or directory) and so needs
  only its digest (remembered: `content_sha256`); else None (it must be
  written, downloaded, extracted or converted: `prepare`, in a worker).
  A run whose checkpoints are in place (a no-op rerun) starts no worker.
  Raises one of SOURCE_ERRORS naming the cause."""
  if source.synthetic:
    prefix = _synthetic_prefix(cfg, source)
    if not os.path.isfile(prefix + ".index"):
      return None
  else:
    given = _given(cfg, source) or cfg.checkpoint.path
    if not given or keras_model.is_keras_file(given) or given.endswith(
        (".tgz", ".tar.gz")):
      return None
    prefix = checkpoint_lib.find_prefix(given)
  return Prepared(prefix, content_sha256(prefix, source.cache_dir), ())


def _synthetic_prefix(cfg, source):
  return os.path.join(source.cache_dir, "synthetic", cfg.name, "model.ckpt")


def _given(cfg, source):
  return source.checkpoint or (
      os.path.join(source.checkpoint_dir, cfg.name)
      if source.checkpoint_dir else None)


def content_sha256(prefix, cache_dir):
  """`checkpoint.checkpoint_sha256(prefix)`, remembered in `cache_dir`
  (`digests/`) by each file's size, inode, mtime and ctime (a file written
  since has another ctime) once they are `SETTLED_NS` old. Hashing the
  family's checkpoints (half a GB) would be most of a no-op run."""
  files = checkpoint_lib.checkpoint_files(prefix)
  try:
    stats = {os.path.basename(f): _stat_key(f) for f in files}
  except OSError:
    stats = None
  memo = None
  if cache_dir and stats:
    memo = os.path.join(cache_dir, "digests", hashlib.sha256(
        os.path.realpath(prefix).encode()).hexdigest()[:32] + ".json")
    try:
      with open(memo, encoding="utf-8") as f:
        known = json.load(f)
      if known.get("files") == stats:
        return known["sha256"]
    except (OSError, ValueError):
      pass
  digest = checkpoint_lib.checkpoint_sha256(prefix)
  # File times tick coarsely: a file changed again within the same tick
  # keeps its stats, so a digest is remembered only once its files have
  # been left alone for a while (git's "racy clean" entries alike).
  newest = max(ctime for _, _, _, ctime in stats.values()) if stats else 0
  if memo and time.time_ns() - newest > SETTLED_NS:
    try:
      os.makedirs(os.path.dirname(memo), exist_ok=True)
      tmp = f"{memo}.tmp-{os.getpid()}"
      with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"files": stats, "sha256": digest}, f)
      os.replace(tmp, memo)
    except OSError:
      pass  # A read-only cache: hashed again next time.
  return digest


def _stat_key(path):
  st = os.stat(path)
  return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def resolve(cfg, checkpoint, cache_dir, require_hashes=False, log=print):
  """A checkpoint prefix for `cfg` from `checkpoint` (prefix, directory,
  .tgz or Keras model file), else from the config's own path (a model of
  one's own) or its archive's URL."""
  checkpoint = checkpoint or cfg.checkpoint.path
  if checkpoint and keras_model.is_keras_file(checkpoint):
    return keras_model.checkpoint(cfg, checkpoint, cache_dir)
  if checkpoint and not checkpoint.endswith((".tgz", ".tar.gz")):
    return checkpoint_lib.find_prefix(checkpoint)
  if checkpoint:
    if not os.path.isfile(checkpoint):
      raise checkpoint_lib.CheckpointError(f"{checkpoint}: no such archive")
    return _extracted(checkpoint, cfg.checkpoint.prefix or
                      checkpoint_lib.archive_prefix(checkpoint), cache_dir)
  archive = fetch.fetch(cfg.checkpoint.url, cache_dir, cfg.checkpoint.sha256,
                        require_hash=require_hashes, log=log)
  try:
    return _extracted(archive, cfg.checkpoint.prefix or
                      checkpoint_lib.archive_prefix(archive), cache_dir)
  except checkpoint_lib.CheckpointError:
    fetch.evict(archive, cache_dir)  # Unusable: keep it out of the cache.
    raise


def _extracted(archive, prefix, cache_dir):
  """Extracts the checkpoint once per archive content, atomically."""
  dest = os.path.join(cache_dir, "checkpoints", fetch.sha256_of(archive))
  if not os.path.isfile(os.path.join(dest, prefix + ".index")):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".extract-", dir=os.path.dirname(dest))
    try:
      checkpoint_lib.extract_checkpoint(archive, prefix, tmp)
      if os.path.exists(dest):
        shutil.rmtree(dest)
      os.rename(tmp, dest)
    finally:
      shutil.rmtree(tmp, ignore_errors=True)
  return os.path.join(dest, prefix)
