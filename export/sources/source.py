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
import os
import shutil
import tempfile

from export.sources import checkpoint as checkpoint_lib
from export.sources import fetch
from export.sources import keras_model
from export.sources import synthetic

# What getting a checkpoint can fail with for reasons outside the program.
SOURCE_ERRORS = (checkpoint_lib.CheckpointError, fetch.FetchError, OSError)


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
    prefix = os.path.join(source.cache_dir, "synthetic", cfg.name,
                          "model.ckpt")
    if not os.path.isfile(prefix + ".index"):
      synthetic.write(cfg, prefix)
  else:
    given = source.checkpoint or (
        os.path.join(source.checkpoint_dir, cfg.name)
        if source.checkpoint_dir else None)
    prefix = resolve(cfg, given, source.cache_dir, source.require_hashes,
                      log=messages.append)
  return Prepared(prefix, checkpoint_lib.checkpoint_sha256(prefix),
                  tuple(messages))


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
