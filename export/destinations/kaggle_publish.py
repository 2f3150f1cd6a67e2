"""Publishes a Plan to Kaggle Models, safe to rerun and to interrupt.

Kaggle numbers a variation's versions itself, never deletes one, and shows
a new one only once it has processed its files, so the order of work is
what keeps the numbers right:

1. Before anything is created, each variation's latest version number is
   read (GetModelInstance; 404 and 403 alike mean "not there, or not
   visible to you", as kagglehub reads them). Versions the manifest records
   as created (or being created) by an earlier run that Kaggle does not show
   yet are waited for, bounded (`processing_wait`). A version already there
   is skipped if the manifest records it as ours with the same files; one
   the manifest does not record is someone else's; one Kaggle confirmed
   creating but still does not show is still being processed; and a version
   whose number would not come out right (its predecessors not published)
   is refused: any of these stops the run, naming every such version, with
   nothing created.
2. Each model is read (GetModel) and created with its metadata if missing.
3. A missing version is published only if it is the next number: its files
   are uploaded (retried on transient failures), the manifest records it as
   `creating`, then the variation (with its metadata, for version 1) or the
   version (with its notes) is created, and the record becomes `published`.
   A create whose reply is lost (dropped connection, HTTP 5xx) is repeated
   only once it proves not done: a variation's create answers 409 if the
   variation exists; a version is waited for, bounded, until Kaggle shows
   it, and only if it does not appear is it deemed not made. A `creating`
   record a later run finds is treated the same way: never created twice.
4. A create Kaggle refuses (HTTP 403) stops the run (OwnerRefused), naming
   the owner and the credentials' user.

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
# How long a version Kaggle does not show yet is waited for (it processes
# a version's files first) before it is deemed not made.
PROCESSING_WAIT_SECONDS = 600.0
# The pauses between reads while waiting: from the first (or --retry_wait),
# doubling up to the longest.
POLL_SECONDS = (0.05, 30.0)


class PublishError(RuntimeError):
  """A version cannot be published as planned; nothing more was created."""


class OwnerRefused(PublishError):
  """Kaggle refused a create: these credentials may not publish under the
  owner. `changed`: whether this run created anything before."""

  def __init__(self, message, changed):
    super().__init__(message)
    self.changed = changed


@dataclasses.dataclass
class Options:
  retries: int = kaggle_service.RETRIES
  retry_wait: float = kaggle_service.RETRY_WAIT_SECONDS
  processing_wait: float = PROCESSING_WAIT_SECONDS


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
    self.changed = False     # Whether this run created anything on Kaggle.
    self._deadline = None    # Of the wait for earlier runs' versions.

  def _retrying(self, what, fn, done=None):
    return kaggle_service.retrying(what, fn, self.options.retries,
                                   self.options.retry_wait, done=done)

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

  def _refused(self, owner, error):
    """The OwnerRefused of a create refused (RefusedError) under `owner`."""
    user = kaggle_service.whoami()
    who = f"the credentials' user {user}" if user else "these credentials"
    done = ("this run created something before it" if self.changed else
            "nothing was created")
    return OwnerRefused(
        f"{error}: {who} may not publish under owner {owner}; {done}; "
        f"publish under an owner they may write to, e.g. --owner "
        f"{user or 'YOUR_USERNAME'}", self.changed)

  def _ensure_model(self, model):
    def get():
      return kaggle_service.get_model(model.owner, model.slug)
    if self._retrying(f"GetModel {model.handle}", get) is not None:
      return
    attempts = []

    def create():
      attempts.append(None)
      try:
        kaggle_service.create_model(model)
      except kaggle_service.ExistsError:
        if len(attempts) == 1:
          # There, but not visible to these credentials: whether they may
          # publish in it, the variation's create tells.
          return "not ours"
        # Made by a try whose reply was lost.
    try:
      # Before repeating a lost create: is the model there now?
      made = self._retrying(f"CreateModel {model.handle}", create,
                            done=lambda: get() is not None)
    except kaggle_service.RefusedError as e:
      raise self._refused(model.owner, e) from None
    except kaggle_service.TransientError as e:
      raise PublishError(f"{e}; rerun to continue") from None
    if made != "not ours":
      self.changed = True
      self.report(f"{model.handle}: model created "
                  f"({'private' if model.is_private else 'public'})")

  def _latest(self, variation):
    return self._retrying(f"GetModelInstance {variation.handle}",
                          lambda: kaggle_service.latest_version(variation))

  def _wait_for(self, variation, number, deadline, latest=None):
    """Kaggle's latest version of `variation` once it shows version
    `number`, else the last one read at `deadline` (time.monotonic())."""
    pause = max(self.options.retry_wait, POLL_SECONDS[0])
    latest = self._latest(variation) if latest is None else latest
    while latest < number and time.monotonic() < deadline:
      time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
      pause = min(2 * pause, POLL_SECONDS[1])
      latest = self._latest(variation)
    return latest

  def _recorded(self, variation):
    """{version number: record} of `variation`'s records."""
    prefix = variation.handle + "/"
    return {int(h[len(prefix):]): r for h, r in self.records.items()
            if h.startswith(prefix) and h[len(prefix):].isdigit()}

  def _missing(self, variation, versions):
    """[(variation, version, files)] of `versions` not on Kaggle yet, after
    checking that what is there is what this tool recorded."""
    latest = self._latest(variation)
    recorded = self._recorded(variation)
    unseen = sorted(n for n in recorded if n > latest)
    if unseen:  # An earlier run's; Kaggle may still be processing them.
      if self._deadline is None:
        self._deadline = time.monotonic() + self.options.processing_wait
      self.report(f"{variation.handle}: waiting for Kaggle to show version "
                  f"{unseen[-1]} (processing its files), up to "
                  f"{max(0, self._deadline - time.monotonic()):.0f} s")
      latest = self._wait_for(variation, unseen[-1], self._deadline, latest)
    if latest and latest not in recorded:
      raise PublishError(
          f"{variation.handle}/{latest} is on Kaggle but {self.output_dir}/"
          "manifest.json does not record publishing it: someone else "
          "published there (or from another output directory). Kaggle "
          "versions cannot be deleted; check it, then publish elsewhere "
          "(--owner).")
    processing = [f"{variation.handle}/{n}" for n in unseen
                  if n > latest and recorded[n]["state"] == PUBLISHED]
    if processing:
      raise PublishError(
          f"{', '.join(processing)}: Kaggle confirmed creating it but does "
          f"not show it after {self.options.processing_wait:g} s (still "
          "processing its files?); rerun later, or with a longer "
          "--processing_wait")
    # A `creating` record Kaggle does not show after the wait: deemed not
    # made (its create's reply was lost, or the run died before sending it).
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
      self._confirmed(version, files)
      return
    self.report(f"{version.handle}: already there")
    self.counts["already there"] += 1

  def _confirmed(self, version, files):
    self._save(version, files, PUBLISHED)
    self.report(f"{version.handle}: created by an earlier run (confirmed)")
    self.counts["created"] += 1

  def _create(self, variation, version, files):
    number = version.kaggle.version
    earlier = self.records.get(version.handle)  # A `creating` record.
    try:
      tokens = self._retrying(
          f"uploading {version.handle}",
          lambda: kaggle_service.upload(version.handle, files))
    except kaggle_service.TransientError as e:
      raise PublishError(f"{e}; nothing was created for it, rerun to "
                         "continue") from None
    self._save(version, files, CREATING)
    attempts = []

    def create():
      attempts.append(None)
      if number > 1:
        return kaggle_service.create_version(variation, version.notes,
                                             tokens)
      try:
        return kaggle_service.create_variation(variation, tokens)
      except kaggle_service.ExistsError:
        if len(attempts) == 1 and earlier is None:
          raise  # Not made by this tool: someone else's, not visible.
        return "exists"  # Made by a try whose reply was lost.

    def done():
      """Before repeating a create that got no answer: was it done?"""
      if number == 1:  # Repeating it is safe: it answers 409 if made.
        return self._latest(variation) >= 1
      # Repeating it would add a version: wait until Kaggle shows it.
      self.report(f"{version.handle}: its create got no answer; waiting up "
                  f"to {self.options.processing_wait:g} s for Kaggle to "
                  "show it")
      return self._wait_for(
          variation, number,
          time.monotonic() + self.options.processing_wait) >= number

    what = (f"CreateModelInstance {variation.handle}" if number == 1 else
            f"CreateModelInstanceVersion {variation.handle}")
    try:
      made = self._retrying(what, create, done=done)
    except kaggle_service.TransientError as e:
      raise PublishError(f"{version.handle}: {e}; rerun to continue"
                         ) from None
    except kaggle_service.RefusedError as e:
      raise self._refused(variation.owner, e) from None
    except kaggle_service.ExistsError as e:
      raise PublishError(
          f"{e}: {variation.handle} exists on Kaggle, though Kaggle does not "
          "show it to these credentials: someone else's? Publish elsewhere "
          "(--owner)") from None
    if made == "exists" and len(attempts) == 1:  # An earlier run's create.
      self._confirmed(version, files)
      return
    self.changed = True
    self._save(version, files, PUBLISHED)
    self.counts["created"] += 1
    self.report(f"{version.handle}: created from {version.module} "
                f"({len(files.files)} files, {files.size} bytes)")
