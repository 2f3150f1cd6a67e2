"""`<output_dir>/manifest.json`: every exported module and what it was made of.

One entry per module handle: the packaged archive (path, sha256, size), the
source checkpoint's sha256, the exporter and TensorFlow versions, and
`inputs`, a digest of everything the module's bytes depend on (its config
fields, the checkpoint, the exporter and TensorFlow versions). An export whose inputs digest matches the manifest,
and whose files are still there, is up to date and skipped.

Only the coordinating process writes the manifest, atomically (write aside,
rename), after each module, so an interrupted run keeps what it finished.
Runs that share an output directory may overlap: each update (`record`)
re-reads the manifest and merges into it under an exclusive lock
(`locks_dir`), so no run's entries overwrite another's; and a run
exports a module only while it holds that module's lock (`ModuleLocks`), so
two runs never write one module at once.

Destinations a module was published to (Kaggle Models) keep their records in
the same file, under `publications` -> destination -> key, updated the same
way (`record_publications`), so one file says what was made and where it went.
"""

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import tempfile

from export.publishing import package

FILENAME = "manifest.json"
FORMAT_VERSION = 1
_EXPORT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The layers whose code shapes a module's files: what is published (core),
# the networks (nets) and the format writers (formats). Editing anything
# else (sources, publishing, the runner, CLIs, cards) re-exports nothing.
BYTE_SHAPING_PACKAGES = ("core", "nets", "formats")


class ManifestError(RuntimeError):
  """An existing manifest.json that this tool cannot have written."""


@functools.lru_cache(maxsize=None)
def exporter_version():
  """`<package version>+<digest of the code of BYTE_SHAPING_PACKAGES>`."""
  from export import __version__  # pylint: disable=g-import-not-at-top
  digest = hashlib.sha256()
  for package_name in BYTE_SHAPING_PACKAGES:
    for directory, dirs, files in os.walk(os.path.join(_EXPORT_DIR,
                                                       package_name)):
      dirs[:] = sorted(d for d in dirs if d != "__pycache__")
      for name in sorted(files):
        if name.endswith((".py", ".txt")):  # Code, and data such as labels.
          path = os.path.join(directory, name)
          digest.update(os.path.relpath(path, _EXPORT_DIR).encode() + b"\0")
          with open(path, "rb") as f:
            digest.update(f.read() + b"\0")
  return f"{__version__}+{digest.hexdigest()[:12]}"


@functools.lru_cache(maxsize=None)
def tensorflow_version():
  """The installed TensorFlow's version (without importing it)."""
  try:
    return importlib.metadata.version("tensorflow")
  except importlib.metadata.PackageNotFoundError:
    return importlib.metadata.version("tensorflow-cpu")


def inputs_digest(cfg, module, checkpoint_sha256, signer_identity=None):
  """Digest of all a module's bytes depend on (and of the signer's
  identity, if signed: a module signed by another key, or unsigned, is
  not up to date)."""
  fields = dict(
      architecture=cfg.architecture, depth_multiplier=cfg.depth_multiplier,
      input_size=cfg.input_size, quantized=cfg.quantized,
      checkpoint_prefix=cfg.checkpoint.prefix, kind=module.kind,
      version=module.version, format=module.format, handle=module.handle,
      checkpoint_sha256=checkpoint_sha256, exporter=exporter_version(),
      tensorflow=tensorflow_version())
  if signer_identity:
    fields["signer"] = signer_identity
  if cfg.custom:  # What else a model of one's own is made of.
    fields.update(num_classes=cfg.num_classes, semantics=module.semantics,
                  quantization=module.quantization,
                  input_range=list(cfg.input_range),
                  labels=package.file_sha256(cfg.labels))
    if module.quantization:
      fields["calibration"] = _tree_digest(cfg.calibration)
  return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()
                        ).hexdigest()


def _tree_digest(directory):
  """Digest of the names and bytes of the files below `directory`."""
  digest = hashlib.sha256()
  for d, dirs, names in sorted(os.walk(directory)):
    dirs.sort()
    for name in sorted(names):
      path = os.path.join(d, name)
      digest.update(f"{os.path.relpath(path, directory)}\0"
                    f"{package.file_sha256(path)}\n".encode())
  return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class Entry:
  handle: str
  config: str              # Config name.
  format: str
  archive: str             # Relative to the output directory.
  sha256: str              # Of the archive.
  size: int                # Of the archive, in bytes.
  checkpoint_sha256: str
  exporter_version: str
  inputs: str              # inputs_digest() when exported.
  # What the writer measured, e.g. a post-training quantized Lite file's
  # top-1 agreement with the float model; most modules have none.
  report: dict = None
  # The TensorFlow that wrote it: the same config, checkpoint and exporter
  # version give the same bytes with one TensorFlow version; another may
  # serialize graphs differently.
  tensorflow_version: str = None


def load(output_dir):
  """Returns {handle: Entry}; empty if there is no manifest yet.

  Raises:
    ManifestError: the file exists but is not a manifest this tool wrote
      (damaged, or another tool's). Nothing is exported then: silently
      treating every module as stale would re-export them all.
  """
  return _read(output_dir)[0]


def load_publications(output_dir, destination):
  """Returns {key: record dict} of `destination` (e.g. "kaggle")."""
  return _read(output_dir)[1].get(destination, {})


def _read(output_dir):
  """({handle: Entry}, {destination: {key: record}}) of the manifest."""
  path = os.path.join(output_dir, FILENAME)
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except FileNotFoundError:
    return {}, {}
  except OSError as e:
    raise ManifestError(f"{path}: cannot read it: {e.strerror}") from None
  try:
    data = json.loads(text)
    if data.get("format_version") != FORMAT_VERSION:
      raise ValueError(f"format_version is {data.get('format_version')!r}, "
                       f"expected {FORMAT_VERSION}")
    publications = data.get("publications", {})
    if not all(isinstance(records, dict)
               for records in publications.values()):
      raise ValueError("publications must map destinations to records")
    return ({h: Entry(handle=h, **e) for h, e in data["modules"].items()},
            publications)
  except (ValueError, KeyError, TypeError, AttributeError) as e:
    raise ManifestError(
        f"{path}: not a manifest of this exporter ({type(e).__name__}: {e}). "
        f"Move it aside to export every module again, or choose another "
        f"--output_dir.") from None


MANIFEST_LOCK = "manifest"


def locks_dir(output_dir):
  """Where the lock files of the manifest and each module of `output_dir`
  are: in the system's temporary directory, keyed by the output directory's
  real path, so that an export that fails leaves nothing in the output
  directory (runs on one machine share them; flock is local anyway). A lock
  file exists only while its lock is held (`_lock_file`, `_unlock`), and
  the directory only while one does."""
  key = hashlib.sha256(os.path.realpath(output_dir).encode()).hexdigest()
  return os.path.join(tempfile.gettempdir(), "tfhub_export_locks", key[:24])


def _lock_file(path, blocking=True):
  """Locks the file at `path` (created, with its directory, if need be).

  Returns:
    Its locked fd; None if not `blocking` and another process holds it.
  """
  while True:
    try:
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # No directory (or removed as empty).
      try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
      except FileExistsError:
        pass  # Made, or removed again, by another run meanwhile: retry.
      continue
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
      os.close(fd)
      return None
    # The holder we waited for may have unlinked the file (`_unlock`): a
    # lock of a file no longer at `path` excludes nobody; lock the new one.
    try:
      current = os.stat(path)
    except FileNotFoundError:
      current = None
    held = os.fstat(fd)
    if current and (current.st_dev, current.st_ino) == (held.st_dev,
                                                        held.st_ino):
      return fd
    os.close(fd)


def _unlock(path, fd):
  """Releases a lock of `_lock_file`, deleting its file first (while the
  lock is held nobody else deletes or recreates it), then its directory if
  that is empty now, so that lock files do not pile up."""
  try:
    os.unlink(path)
  except FileNotFoundError:
    pass  # Deleted by something else (a temporary-files cleaner).
  os.close(fd)
  try:
    os.rmdir(os.path.dirname(path))
  except OSError:
    pass  # Other locks are held there.


@contextlib.contextmanager
def _locked(path):
  """Holds an exclusive lock of file `path`, waiting for it; the OS
  releases it if the process dies (its file is left then, and reused)."""
  fd = _lock_file(path)
  try:
    yield
  finally:
    _unlock(path, fd)


def record(output_dir, entries):
  """Adds or replaces `entries` (a list of Entry) in the manifest, merged
  under the manifest's lock into what is there now (other runs may have
  recorded modules since this one read it). Returns the merged {handle:
  Entry}."""
  with _locked(os.path.join(locks_dir(output_dir), MANIFEST_LOCK)):
    merged, publications = _read(output_dir)
    merged.update({e.handle: e for e in entries})
    _save(output_dir, merged, publications)
  return merged


def forget(output_dir, handles):
  """Removes the entries of `handles` from the manifest (merged under its
  lock like `record`): their files are gone."""
  with _locked(os.path.join(locks_dir(output_dir), MANIFEST_LOCK)):
    entries, publications = _read(output_dir)
    if any(h in entries for h in handles):
      _save(output_dir, {h: e for h, e in entries.items()
                         if h not in handles}, publications)


def record_publications(output_dir, destination, records):
  """Adds or replaces `records` ({key: JSON-able dict}) of `destination`,
  merged under the manifest's lock like `record`. Returns the merged
  {key: record} of the destination."""
  with _locked(os.path.join(locks_dir(output_dir), MANIFEST_LOCK)):
    entries, publications = _read(output_dir)
    merged = dict(publications.get(destination, {}))
    merged.update(records)
    publications = dict(publications, **{destination: merged})
    _save(output_dir, entries, publications)
  return merged


class ModuleLocks:
  """Locks of modules of an output directory, one file each (`locks_dir`),
  taken without waiting: a run exports a module only while it holds its
  lock, and one that finds it held (another run is exporting it) tries
  again later."""

  def __init__(self, output_dir):
    self.directory = locks_dir(output_dir)
    self.held = {}  # handle -> fd

  def _path(self, handle):
    return os.path.join(self.directory,
                        hashlib.sha256(handle.encode()).hexdigest()[:32])

  def acquire(self, handles):
    """Locks all of `handles`, or none: True if this run now holds them."""
    taken = {}
    for handle in sorted(handles):
      fd = _lock_file(self._path(handle), blocking=False)
      if fd is None:
        for h, fd_taken in taken.items():
          _unlock(self._path(h), fd_taken)
        return False
      taken[handle] = fd
    self.held.update(taken)
    return True

  def release(self, handles):
    for handle in handles:
      fd = self.held.pop(handle, None)
      if fd is not None:
        _unlock(self._path(handle), fd)

  def release_all(self):
    self.release(list(self.held))


def _save(output_dir, entries, publications):
  data = {"format_version": FORMAT_VERSION, "modules": {
      h: {k: v for k, v in dataclasses.asdict(e).items()
          if k != "handle" and not (k in ("report", "tensorflow_version")
                                    and v is None)}
      for h, e in sorted(entries.items())}}
  if publications:
    data["publications"] = publications
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, FILENAME)
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(data, f, indent=1, sort_keys=True)
    f.write("\n")
  os.replace(tmp, path)


def up_to_date(entry, output_dir, digest):
  """The manifest says the module was made from these inputs, and it and
  its archive are still where they were written."""
  if entry is None or entry.inputs != digest:
    return False
  archive = os.path.join(output_dir, entry.archive)
  return (os.path.isdir(os.path.join(output_dir, entry.handle)) and
          os.path.isfile(archive) and os.path.getsize(archive) == entry.size)
