"""Fills the caches of tensorflow_hub and kagglehub from an output
directory, so that unchanged code loads the modules with no network.

tensorflow_hub (0.16 and 0.15 alike, resolver.py and
compressed_module_resolver.py): an http(s) handle is cached in
`$TFHUB_CACHE_DIR/<sha1 hex of the handle string>/`, the unpacked archive,
with `<that>.descriptor.txt` beside it (for people; no code reads it); a
module directory that exists and is not empty is used as is, without any
request. So each TF1/TF2 module's archive is unpacked under the key of the
URL tfhub.dev served it at (`https://tfhub.dev/<handle>`).

kagglehub 1.0.3 (cache.py): a model version is cached in
`$KAGGLEHUB_CACHE/models/<owner>/<model>/<framework>/<variation>/<version>/`
and counts only once `.../<variation>/<version>.complete` exists; then
`model_download(handle)` returns it before asking the network. Each module
goes under the Kaggle handle `python -m export.kaggle` publishes it as
(`kaggle_layout.locate`), with the files that command uploads
(`kaggle_plan.module_files`, checked against the manifest).

Every entry is built in a hidden staging directory beside it and renamed
into place, its marker written last: a cache is never seen half-filled.
"""

import dataclasses
import hashlib
import os
import shutil
import tarfile

from export.core import kaggle_names
from export.core import published
from export.destinations import kaggle_plan
from export.publishing import package

# The formats tensorflow_hub loads (hub.Module, hub.load, hub.KerasLayer).
TFHUB_FORMATS = (published.FORMAT_HUB, published.FORMAT_SAVED_MODEL_2)
KAGGLEHUB_MODELS = "models"
COMPLETE_SUFFIX = ".complete"
DESCRIPTOR_SUFFIX = ".descriptor.txt"


class CacheError(RuntimeError):
  """An archive or module that is not what the manifest records."""


@dataclasses.dataclass(frozen=True)
class Filled:
  key: str       # The handle URL or Kaggle handle.
  path: str      # Its directory in the cache.


def tfhub_key(url):
  """The directory name tensorflow_hub caches `url` under."""
  return hashlib.sha1(url.encode("utf8")).hexdigest()


def _staging(dest):
  return os.path.join(os.path.dirname(dest),
                      f".{os.path.basename(dest)}.staging-{os.getpid()}")


def _replace_dir(staging, dest):
  """Renames `staging` to `dest`, replacing an older `dest`."""
  old = f"{staging}.old"
  if os.path.exists(dest):
    os.rename(dest, old)
  os.rename(staging, dest)
  shutil.rmtree(old, ignore_errors=True)


def _write_text(path, text):
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  os.replace(tmp, path)


def _checked_archive(output_dir, entry):
  path = os.path.join(output_dir, entry.archive)
  if not os.path.isfile(path):
    raise CacheError(f"{path}: missing (manifest entry {entry.handle}); "
                     "export the module again")
  sha = package.file_sha256(path)
  if sha != entry.sha256:
    raise CacheError(f"{path}: sha256 {sha}, but the manifest records "
                     f"{entry.sha256}; export the module again")
  return path


def fill_tfhub(items, output_dir, cache_dir):
  """Unpacks every TF1/TF2 module of `items` into tensorflow_hub's cache
  `cache_dir`. Returns [Filled]."""
  filled = []
  os.makedirs(cache_dir, exist_ok=True)
  for item in items:
    if item.format not in TFHUB_FORMATS or item.query is None:
      continue
    archive = _checked_archive(output_dir, item.entry)
    url = item.hub_url
    dest = os.path.join(cache_dir, tfhub_key(url))
    staging = _staging(dest)
    shutil.rmtree(staging, ignore_errors=True)
    try:
      os.makedirs(staging)
      with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(staging, filter="data")
      if not os.listdir(staging):
        raise CacheError(f"{archive}: an empty archive")
      _write_text(dest + DESCRIPTOR_SUFFIX,
                  f"Module: {url}\nFilled by: python -m export.cache from "
                  f"{item.entry.archive} (sha256 {item.entry.sha256})\n")
      _replace_dir(staging, dest)
    finally:
      shutil.rmtree(staging, ignore_errors=True)
    filled.append(Filled(url, dest))
  return filled


def kagglehub_paths(cache_dir, kaggle_version):
  """(version directory, completion marker) of a KaggleVersion."""
  kv = kaggle_version
  variation = os.path.join(cache_dir, KAGGLEHUB_MODELS, kv.owner, kv.model,
                           kv.framework, kv.variation)
  return (os.path.join(variation, str(kv.version)),
          os.path.join(variation, f"{kv.version}{COMPLETE_SUFFIX}"))


def fill_kagglehub(items, output_dir, cache_dir):
  """Copies every module of `items` that has a Kaggle handle into
  kagglehub's cache `cache_dir`, as `export.kaggle` uploads it. Returns
  [Filled]."""
  entries = {i.handle: i.entry for i in items}
  filled = []
  for item in items:
    kv = item.kaggle
    if kv is None:
      continue
    version = kaggle_plan.Version(
        kaggle=kv, module=item.handle, config=item.cfg.name,
        module_dir=os.path.join(output_dir, item.handle), notes="",
        lite_file=(kaggle_names.lite_file(item.module)
                   if item.module.is_lite else None))
    try:
      files = kaggle_plan.module_files(version, entries, output_dir).files
    except kaggle_plan.PlanError as e:
      raise CacheError(str(e)) from None
    dest, marker = kagglehub_paths(cache_dir, kv)
    staging = _staging(dest)
    shutil.rmtree(staging, ignore_errors=True)
    try:
      # Not complete while it changes; complete again once it is in place.
      if os.path.exists(marker):
        os.remove(marker)
      for name, path, _, _ in files:
        target = os.path.join(staging, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
      _replace_dir(staging, dest)
      _write_text(marker, "")
    finally:
      shutil.rmtree(staging, ignore_errors=True)
    filled.append(Filled(kv.handle, dest))
  return filled
