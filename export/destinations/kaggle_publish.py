"""Publishes a Plan to Kaggle Models, safe to rerun and to interrupt.

Kaggle numbers a variation's versions itself and never deletes one, so the
order of work is what keeps the numbers right:

1. Before anything is created, each variation's latest version number is
   read (GetModelInstance). A version already there is skipped if the
   manifest records it as ours with the same files; one the manifest does
   not record is someone else's, and a version whose number would not come
   out right (its predecessors not published) is refused: either stops the
   run, naming every such version, with nothing created.
2. Each model is read (GetModel) and created with its metadata if missing.
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
# Held by a publishing run (a name no module handle can have).
PUBLISHING_LOCK = "<export.kaggle>"


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
    """Publishes the plan, while holding the output directory's publishing
    lock (two runs creating in one variation at once could both number
    their version N)."""
    kaggle_service.check_credentials()
    locks = manifest.ModuleLocks(self.output_dir)
    if not locks.acquire([PUBLISHING_LOCK]):
      raise PublishError(f"another export.kaggle run is publishing from "
                         f"{self.output_dir}; wait for it to finish")
    try:
      return self._run()
    finally:
      locks.release_all()

  def _run(self):
    """Reads the service's state of every variation, checks it against the
    records, and only then creates what is missing, in order."""
    variations = {v.handle: v for v in self.plan.variations}
    todo = []  # (variation, version, files)
    problems = []
    for handle, versions in self._by_variation().items():
      try:
        todo.extend(self._missing(variations[handle], versions))
      except (PublishError, kaggle_plan.PlanError) as e:
        problems.append(str(e))
    if problems:
      raise PublishError("nothing was created:\n  " + "\n  ".join(problems))
    for model in self.plan.models:
      self._ensure_model(model)
    for variation, version, files in todo:
      self._create(variation, version, files)
    return self.counts

  def _by_variation(self):
    by_variation = {}
    for version in self.plan.versions:
      by_variation.setdefault(version.kaggle.variation_handle, []).append(
          version)
    return by_variation

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

  def _missing(self, variation, versions):
    """[(variation, version, files)] of `versions` not on Kaggle yet, after
    checking that what is there is what this tool recorded."""
    latest = self._latest(variation)
    if latest:
      handle = f"{variation.handle}/{latest}"
      if handle not in self.records:
        raise PublishError(
            f"{handle} is on Kaggle but {self.output_dir}/manifest.json does "
            "not record publishing it: someone else published there (or "
            "from another output directory). Kaggle versions cannot be "
            "deleted; check it, then publish elsewhere (--owner).")
    missing = []
    expected = latest + 1
    for version in versions:
      files = kaggle_plan.module_files(version, self.entries,
                                       self.output_dir)
      if version.kaggle.version <= latest:
        self._already_there(version, files)
      elif version.kaggle.version != expected:
        raise PublishError(
            f"{version.handle}: Kaggle's latest version of "
            f"{variation.handle} is {latest}, so it would be numbered "
            f"{expected}; publish the versions before it too (widen "
            "--configs/--only)")
      else:
        missing.append((variation, version, files))
        expected += 1
    return missing

  def _already_there(self, version, files):
    record = self.records.get(version.handle)
    if record is None:
      raise PublishError(
          f"{version.handle} is on Kaggle but {self.output_dir}/"
          "manifest.json does not record publishing it: someone else "
          "published there.")
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
    try:
      tokens = self._retrying(
          f"uploading {version.handle}",
          lambda: kaggle_service.upload(version.handle, files))
    except kaggle_service.TransientError as e:
      raise PublishError(f"{e}; nothing was created for it, rerun to "
                         "continue") from None
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
