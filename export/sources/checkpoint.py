"""Finding and reading TF1 name-based checkpoints, strictly.

`--checkpoint` may name a checkpoint prefix, a directory holding one
checkpoint, or a published `.tgz` archive. Reading is strict: every variable
the module needs must be in the checkpoint with the same shape; anything else
in it (global_step, optimizer slots, moving-average shadows) is ignored.
"""

import glob
import hashlib
import os
import tarfile

import numpy as np


class CheckpointError(RuntimeError):
  """The checkpoint cannot be found, opened, or does not fit the model."""


def _is_prefix(path):
  return os.path.isfile(path + ".index")


def find_prefix(path):
  """Resolves `path`, a checkpoint prefix or a directory holding exactly one
  checkpoint, to a checkpoint prefix. (Archives: see `extract_checkpoint`.)"""
  if _is_prefix(path):
    return path
  if os.path.isdir(path):
    indexes = sorted(glob.glob(os.path.join(glob.escape(path), "*.index")))
    if len(indexes) == 1:
      return indexes[0][:-len(".index")]
    if not indexes:
      raise CheckpointError(f"{path}: no checkpoint (*.index) in directory")
    names = ", ".join(os.path.basename(i)[:-6] for i in indexes)
    raise CheckpointError(f"{path}: several checkpoints in directory ({names});"
                          " pass the prefix of the one to use")
  raise CheckpointError(f"{path}: not a checkpoint prefix (no {path}.index), "
                        "directory or .tgz archive")


def archive_prefix(archive):
  """The prefix of the one checkpoint in `archive` (a model of one's own
  whose config names none)."""
  try:
    with tarfile.open(archive, "r:gz") as tar:
      indexes = sorted(os.path.basename(m.name)[:-len(".index")]
                       for m in tar.getmembers()
                       if m.isfile() and m.name.endswith(".index"))
  except (tarfile.TarError, EOFError, OSError) as e:
    raise CheckpointError(f"{archive}: cannot read archive: {e}") from None
  if len(indexes) != 1:
    found = ", ".join(indexes) if indexes else "none"
    raise CheckpointError(f"{archive}: expected one checkpoint (*.index) in "
                          f"the archive, found {found}; name it in the "
                          "config's checkpoint.prefix")
  return indexes[0]


def extract_checkpoint(archive, prefix, extract_dir):
  """Safely extracts the files of checkpoint `prefix` from `archive`.

  Only regular files named `<prefix>.index` and `<prefix>.data-*` (at any
  directory depth of the archive) are extracted, flat into `extract_dir`;
  tarfile's "data" filter also refuses absolute paths, `..` and links.
  Returns the extracted checkpoint prefix.
  """
  wanted = []
  try:
    with tarfile.open(archive, "r:gz") as tar:
      for member in tar.getmembers():
        # Refuse the whole archive if any member is absolute, climbs out
        # with "..", links outside or is a device file (the data filter
        # would silently strip a leading "/"; a published archive has none).
        try:
          if os.path.isabs(member.name) or ".." in member.name.split("/"):
            raise tarfile.FilterError(member)
          tarfile.data_filter(member, extract_dir)
        except tarfile.FilterError as e:
          raise CheckpointError(f"{archive}: unsafe member {member.name!r} "
                                f"({type(e).__name__}); archive refused") \
              from None
        base = os.path.basename(member.name)
        if base == prefix + ".index" or base.startswith(prefix + ".data-"):
          if not member.isfile():
            raise CheckpointError(
                f"{archive}: member {member.name} is not a regular file")
          wanted.append(member)
      if not any(m.name.endswith(".index") for m in wanted):
        raise CheckpointError(
            f"{archive}: no checkpoint {prefix!r} in archive (looked for "
            f"{prefix}.index and {prefix}.data-*)")
      os.makedirs(extract_dir, exist_ok=True)
      for member in wanted:
        member = member.replace(name=os.path.basename(member.name))
        tar.extract(member, extract_dir, filter="data")
  except (tarfile.TarError, EOFError, OSError) as e:
    raise CheckpointError(f"{archive}: cannot read archive: {e}") from None
  return os.path.join(extract_dir, prefix)


def checkpoint_files(prefix):
  """The data shards of checkpoint `prefix`, sorted, then its index."""
  return sorted(glob.glob(glob.escape(prefix) + ".data-*")) + [
      prefix + ".index"]


def checkpoint_sha256(prefix):
  """Digest of a checkpoint's content: its index and data shards."""
  base = os.path.basename(prefix)
  files = checkpoint_files(prefix)
  digest = hashlib.sha256()
  for path in files:
    digest.update(os.path.basename(path)[len(base):].encode() + b"\0")
    try:
      with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):  # pylint: disable=cell-var-from-loop
          digest.update(block)
    except OSError as e:
      raise CheckpointError(f"{prefix}: cannot read {path}: {e.strerror}") \
          from None
  return digest.hexdigest()


def read_values(prefix, layout):
  """Reads the variables of `layout` from checkpoint `prefix`.

  Args:
    prefix: checkpoint prefix.
    layout: {variable name: shape} the model needs.

  Returns:
    {variable name: np.ndarray}, in the order of `layout`.

  Raises:
    CheckpointError: listing every missing variable and every shape mismatch.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    reader = tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as e:
    first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    raise CheckpointError(f"{prefix}: cannot open checkpoint: {first}") \
        from None
  shapes = reader.get_variable_to_shape_map()
  problems = []
  for name, shape in layout.items():
    if name not in shapes:
      problems.append(f"missing {name} {list(shape)}")
    elif tuple(shapes[name]) != tuple(shape):
      problems.append(f"shape of {name} is {list(shapes[name])}, "
                      f"model needs {list(shape)}")
  if problems:
    raise CheckpointError(
        f"{prefix} does not fit the model ({len(problems)} problems):\n  " +
        "\n  ".join(problems))
  return {name: np.asarray(reader.get_tensor(name)) for name in layout}


def write_values(values, output_prefix):
  """Writes `values` ({variable name: array}) as a checkpoint at
  `output_prefix`, sorted by name (the same values, the same bytes); its
  files appear only when complete. Returns `output_prefix`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  names = sorted(values)
  directory = os.path.dirname(os.path.abspath(output_prefix))
  os.makedirs(directory, exist_ok=True)
  tmp_prefix = os.path.join(directory,
                            f".tmp-{os.getpid()}-{os.path.basename(output_prefix)}")
  with tf.device("/cpu:0"):
    tf.raw_ops.SaveV2(prefix=tmp_prefix, tensor_names=names,
                      shape_and_slices=[""] * len(names),
                      tensors=[values[n] for n in names])
  # The .index makes it a checkpoint, so it is renamed into place last.
  suffixes = [p[len(tmp_prefix):] for p in tf.io.gfile.glob(tmp_prefix + ".*")]
  for suffix in sorted(suffixes, key=lambda s: s == ".index"):
    os.replace(tmp_prefix + suffix, output_prefix + suffix)
  return output_prefix
