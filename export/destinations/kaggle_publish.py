"""Publishes a Plan to Kaggle Models, safe to rerun and to interrupt.

Kaggle numbers a variation's versions itself and never deletes one, so the
order of work is what keeps the numbers right:

1. Each model is read (GetModel) and created with its metadata if missing.
2. For each variation, the service's latest version number is read
   (GetModelInstance) before anything is created in it. A version already
   there is skipped if the manifest records it as ours with the same files;
   one the manifest does not record is someone else's: stop, naming it.
3. A missing version is published only if it is the next number: its files
   are uploaded (retried on transient failures), the manifest records it as
   `creating`, then the variation (with its metadata, for version 1) or the
   version (with its notes) is created, and the record becomes `published`.
   If a create fails or the process dies, the next read of the latest
   version says whether it happened: a `creating` record with that number
   is confirmed, never created twice.

Records live in the output directory's manifest (`publications` -> "kaggle"
-> Kaggle version handle), merged under its lock.
"""

import dataclasses
import time

from export.destinations import kaggle_plan
from export.destinations import kaggle_service
from export.publishing import manifest

DESTINATION = "kaggle"
CREATING, PUBLISHED = "creating", "published"


class PublishError(RuntimeError):
  """A version cannot be published as planned; nothing more was created."""


@dataclasses.dataclass
class Options:
  retries: int = kaggle_service.RETRIES
  retry_wait: float = kaggle_service.RETRY_WAIT_SECONDS


def _record(version, files, state):
  return {"module": version.module, "config": version.config,
          "state": state, "sha256": files.sha256, "bytes": files.size,
          "files": files.listing()}


class Publisher:
  """Publishes one Plan from `output_dir`; `report(line)` hears of each
  version as it is done."""

  def __init__(self, the_plan, output_dir, report=print, options=None):
    self.plan, self.output_dir, self.report = the_plan, output_dir, report
    self.options = options or Options()
    self.entries = manifest.load(output_dir)
    self.records = manifest.load_publications(output_dir, DESTINATION)
    self.counts = {"created": 0, "already there": 0}

  def _retrying(self, what, fn):
    return kaggle_service.retrying(what, fn, self.options.retries,
                                   self.options.retry_wait)

  def _save(self, version, files, state):
    record = _record(version, files, state)
    self.records = manifest.record_publications(
        self.output_dir, DESTINATION, {version.handle: record})

  def run(self):
    kaggle_service.check_credentials()
    for model in self.plan.models:
      self._ensure_model(model)
    variations = {v.handle: v for v in self.plan.variations}
    by_variation = {}
    for version in self.plan.versions:
      by_variation.setdefault(version.kaggle.variation_handle, []).append(
          version)
    for handle, versions in by_variation.items():
      self._publish_variation(variations[handle], versions)
    return self.counts

  def _ensure_model(self, model):
    found = self._retrying(
        f"GetModel {model.handle}",
        lambda: kaggle_service.get_model(model.owner, model.slug))
    if found is None:
      kaggle_service.create_model(model)
      self.report(f"{model.handle}: model created "
                  f"({'private' if model.is_private else 'public'})")

  def _latest(self, variation):
    return self._retrying(f"GetModelInstance {variation.handle}",
                          lambda: kaggle_service.latest_version(variation))

  def _check_ours(self, variation, number):
    """Version `number` on the service must be one this tool recorded."""
    if number == 0:
      return
    handle = f"{variation.handle}/{number}"
    if handle not in self.records:
      raise PublishError(
          f"{handle} is on Kaggle but {self.output_dir}/manifest.json does "
          "not record publishing it: someone else published there (or "
          "another output directory did). Kaggle versions cannot be "
          "deleted, so nothing more was created in this variation; check "
          f"it, then publish elsewhere (--owner) or record it by hand.")

  def _publish_variation(self, variation, versions):
    latest = self._latest(variation)
    for version in versions:
      number = version.kaggle.version
      files = kaggle_plan.module_files(version, self.entries,
                                       self.output_dir)
      record = self.records.get(version.handle)
      if number <= latest:
        self._already_there(version, files, record)
        continue
      self._check_ours(variation, latest)
      if number != latest + 1:
        raise PublishError(
            f"{version.handle}: Kaggle's latest version of "
            f"{variation.handle} is {latest}, so this one would be numbered "
            f"{latest + 1}; publish the versions before it first (they are "
            "not in this run's --configs/--only)")
      self._create(variation, version, files)
      latest = number

  def _already_there(self, version, files, record):
    if record is None:
      raise PublishError(
          f"{version.handle} is on Kaggle but {self.output_dir}/"
          "manifest.json does not record publishing it: someone else "
          "published there. Nothing more was created in this variation.")
    if record["sha256"] != files.sha256:
      raise PublishError(
          f"{version.handle} on Kaggle holds other files (sha256 "
          f"{record['sha256'][:12]}) than {version.module} now "
          f"({files.sha256[:12]}); a Kaggle version cannot be replaced.")
    if record["state"] == CREATING:  # Created, then the reply was lost.
      self._save(version, files, PUBLISHED)
      self.report(f"{version.handle}: created by an earlier run (confirmed)")
      self.counts["created"] += 1
      return
    self.report(f"{version.handle}: already there")
    self.counts["already there"] += 1

  def _create(self, variation, version, files):
    tokens = self._retrying(
        f"uploading {version.handle}",
        lambda: kaggle_service.upload(version.handle, files))
    self._save(version, files, CREATING)
    for attempt in range(self.options.retries + 1):
      try:
        if version.kaggle.version == 1:
          kaggle_service.create_variation(variation, tokens)
        else:
          kaggle_service.create_version(variation, version.notes, tokens)
        break
      except kaggle_service.TransientError as e:
        # The create may have happened all the same: read before repeating.
        if self._latest(variation) >= version.kaggle.version:
          break
        if attempt == self.options.retries:
          raise PublishError(f"{version.handle}: {e}; rerun to continue"
                             ) from None
        time.sleep(self.options.retry_wait * 2 ** attempt)
    self._save(version, files, PUBLISHED)
    self.counts["created"] += 1
    self.report(f"{version.handle}: created from {version.module} "
                f"({len(files.files)} files, {files.size} bytes)")
