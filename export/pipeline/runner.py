"""Runs the export of many modules: what is stale, in worker processes.

Both `export.one` and `export.export_all` go through `run`:

1. For each config, a worker gets its checkpoint ready and hashes it
   (`sources.source.prepare`: the synthetic one, the given one, or the
   published archive, downloaded and extracted); one already in place is
   only hashed, by this process (`source.in_place`; digests are remembered
   in the cache), so a no-op rerun starts no worker.
2. Each module whose inputs (config fields, checkpoint hash, exporter
   version; see `manifest.inputs_digest`) match the manifest, and whose files
   are in place, is up to date. Every other module is exported by a worker,
   together with the modules of its config built from the same network
   (`exporter.network_groups`): written from fresh graphs or one traced
   function (or copied from a module with the same files), published
   atomically, packed as `<handle>.tar.gz` (a Lite file: `<handle>.tflite`,
   the file itself), and recorded in the manifest by
   this process.
3. One line per module as it finishes, then a summary table.

Ctrl-C (SIGINT) stops a run cleanly: the workers are killed, modules they
had started are left as they were before the run (or removed, with their
manifest entries, if a worker had begun replacing them), and `run` raises
`Interrupted` with the results so far.

The CLIs, Bazel targets, tests and benchmarks all export through `run`.
Workers are spawned (no TensorFlow state is forked), each replaced on its own
after `TASKS_PER_WORKER` tasks so that their memory stays bounded however
many modules there are, and die with the coordinating process. A network
whose graph other configs share (`signatures.graph_key`: V1's input sizes)
goes to the free worker that built that graph lately, which writes it with
the new values instead of building it again. Their
stderr (TensorFlow's logs) goes to `<cache_dir>/logs/worker-<pid>.log`.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import glob
import io
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time

from export.publishing import manifest as manifest_lib
from export.publishing import package
from export.publishing import publish
from export.pipeline import exporter
from export.sources import checkpoint as checkpoint_lib
from export.sources import source as source_lib

# Workers are replaced after this many tasks each (each export builds
# fresh graphs, but TensorFlow keeps some per-process caches).
TASKS_PER_WORKER = 32
# How many of a worker's latest graph keys the runner remembers: more than
# the writers keep (two TF1 networks, two TF2 traces).
KEYS_REMEMBERED = 8
# How often a run left with modules another run is exporting looks again.
LOCK_POLL_SECONDS = 0.5

EXPORTED, UP_TO_DATE, FAILED, NOT_RUN = (
    "exported", "up to date", "failed", "not run")


class Interrupted(KeyboardInterrupt):
  """A run stopped by SIGINT; `results` as `run` returns them (what was not
  finished is NOT_RUN)."""

  def __init__(self, results):
    super().__init__()
    self.results = results


@dataclasses.dataclass(frozen=True)
class Result:
  handle: str
  config: str
  status: str              # EXPORTED, UP_TO_DATE, FAILED or NOT_RUN.
  seconds: float = 0.0
  error: str = None
  # Peak resident memory of the worker process that ran it, so far.
  worker_peak_rss: int = 0
  pack_seconds: float = 0.0  # Of `seconds`, packing the archive.
  report: dict = None        # What the writer measured (manifest.Entry).


# --- Worker side --------------------------------------------------------------


def _worker_init(log_dir):
  # Die with the coordinating process (Linux), rather than finish a task
  # nobody waits for; a killed export leaves at most a staging directory,
  # which the next run deletes.
  try:
    import ctypes  # pylint: disable=g-import-not-at-top
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
  except (OSError, AttributeError):
    pass
  signal.signal(signal.SIGINT, signal.SIG_IGN)  # The coordinator handles ^C.
  # TensorFlow's start-up and deprecation chatter would interleave with the
  # progress lines; failures come back as results. Keep it in a log file.
  os.makedirs(log_dir, exist_ok=True)
  log = os.open(os.path.join(log_dir, f"worker-{os.getpid()}.log"),
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
  os.dup2(log, 2)
  os.close(log)
  sys.stderr = os.fdopen(2, "w", buffering=1)


def export_and_pack(cfg, modules, prefix, checkpoint_sha256, inputs,
                    output_dir, signer=None):
  """Exports modules built from one network (`exporter.network_groups`);
  packs each.

  Args:
    inputs: the digests the coordinator found stale, one per module.

  Returns:
    [(manifest Entry, seconds writing or copying it, seconds packing it)],
    one per module (the first's writing includes reading the checkpoint and
    building the network).
  """
  done, start = [], time.monotonic()
  values = checkpoint_lib.read_values(
      prefix, exporter.group_layout(cfg, modules))
  published = exporter.export_group(cfg, modules, values, output_dir,
                                    signer)
  for (module, dest, report), digest in zip(published, inputs):
    written = time.monotonic()
    archive = package.archive_path(output_dir, module.handle, module.format)
    sha256, size = package.serve(dest, archive, module.format)
    done.append((manifest_lib.Entry(
        handle=module.handle, config=cfg.name, format=module.format,
        archive=os.path.relpath(archive, output_dir), sha256=sha256,
        size=size, checkpoint_sha256=checkpoint_sha256,
        exporter_version=manifest_lib.exporter_version(), inputs=digest,
        report=report,
        tensorflow_version=manifest_lib.tensorflow_version()),
                 written - start, time.monotonic() - written))
    start = time.monotonic()
  return done


def _peak_rss_bytes():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB.


def _timed(function, *args):
  """Runs a task; returns (value, error, seconds, this worker's peak RSS)."""
  start = time.monotonic()
  try:
    value, error = function(*args), None
  except exporter.EXPORT_ERRORS as e:
    value, error = None, str(e)
  except Exception as e:  # pylint: disable=broad-except
    # Reported with its type, as one module's failure, not the run's end.
    value, error = None, f"{type(e).__name__}: {e}"
  return value, error, time.monotonic() - start, _peak_rss_bytes()


# --- Coordinator side ---------------------------------------------------------


def _log_dir(cache_dir):
  """`<cache_dir>/logs`, or a temporary directory if the cache is read-only
  (e.g. a sandbox): exporting from a local checkpoint needs no cache."""
  log_dir = os.path.join(cache_dir, "logs")
  try:
    os.makedirs(log_dir, exist_ok=True)
    _remove_old_logs(log_dir)
    return log_dir
  except OSError:
    return tempfile.mkdtemp(prefix="tfhub_export_logs_")


def _remove_old_logs(log_dir):
  """Deletes the logs of workers that are no longer running."""
  if not os.path.isdir(log_dir):
    return
  for name in os.listdir(log_dir):
    pid = name[len("worker-"):-len(".log")]
    if name.startswith("worker-") and pid.isdigit():
      try:
        os.kill(int(pid), 0)
      except ProcessLookupError:
        os.remove(os.path.join(log_dir, name))
      except PermissionError:
        pass


class _Progress:

  def __init__(self, total, out):
    self.total, self.done, self.out = total, 0, out
    self.width = len(str(total))

  def report(self, result):
    self.done += 1
    timing = f"  {result.seconds:5.1f}s" if result.status in (
        EXPORTED, FAILED) else ""
    line = (f"[{self.done:{self.width}d}/{self.total}] {result.status:<10} "
            f"{result.handle}{timing}")
    if result.error:
      line += f"  ({result.error.splitlines()[0]})"
    if result.report and result.report.get("summary"):
      line += f"  ({result.report['summary']})"
    print(line, file=self.out, flush=True)


class _Slot:
  """One worker process (in a pool of its own) and its task."""

  def __init__(self):
    self.pool, self.tasks, self.future = None, 0, None
    # The graph keys (signatures.graph_key) of its latest tasks: what its
    # writers may still keep.
    self.keys = collections.deque(maxlen=KEYS_REMEMBERED)


class _Workers:
  """`jobs` worker processes, each in a pool of its own, each running one
  task at a time.

  A worker is replaced by a fresh one after `tasks_per_worker` tasks, when
  it is idle (the others keep working), so that no worker's memory grows
  with the number of modules. (ProcessPoolExecutor's own
  max_tasks_per_child can deadlock on Python 3.11 when a worker retires.)
  A task with a graph key goes to a free worker that ran one with that key
  lately (`free_slot`), whose writers kept the graph.
  """

  def __init__(self, jobs, log_dir, tasks_per_worker):
    self.log_dir, self.tasks_per_worker = log_dir, tasks_per_worker
    self.slots = [_Slot() for _ in range(jobs)]
    self.in_flight = {}  # future -> caller's tag
    self.broken = (f"a worker process died (killed, or out of memory?); see "
                   f"the worker logs in {log_dir}")

  def has_room(self):
    return any(slot.future is None for slot in self.slots)

  def free_slot(self, keys=()):
    """A free slot: the first whose worker ran a task with one of `keys`
    lately, else the first."""
    free = [slot for slot in self.slots if slot.future is None]
    return next((slot for slot in free if set(keys) & set(slot.keys)),
                free[0])

  def submit(self, slot, tag, function, *args, key=None):
    if slot.pool is not None and slot.tasks >= self.tasks_per_worker:
      slot.pool.shutdown(wait=True)  # Idle: it just exits.
      slot.pool = None
    if slot.pool is None:
      slot.pool = concurrent.futures.ProcessPoolExecutor(
          max_workers=1, mp_context=multiprocessing.get_context("spawn"),
          initializer=_worker_init, initargs=(self.log_dir,))
      slot.tasks = 0
      slot.keys.clear()
    slot.tasks += 1
    if key is not None:
      slot.keys.append(key)
    try:
      future = slot.pool.submit(_timed, function, *args)
    except concurrent.futures.process.BrokenProcessPool:
      future = concurrent.futures.Future()
      future.set_result((None, self.broken, 0.0, 0))
      slot.pool.shutdown(wait=False)
      slot.pool = None  # Its next task gets a fresh worker.
    slot.future = future
    self.in_flight[future] = tag

  def next_done(self, timeout=None, wakeable=contextlib.nullcontext()):
    """Waits for a task; returns (tag, (value, error, seconds, peak RSS)),
    or None if none finished within `timeout` seconds (or `wakeable`, a
    `_Sigint.wakeable()`, ended the wait)."""
    done = ()
    with wakeable:  # Only the wait: what follows changes state.
      done, _ = concurrent.futures.wait(
          self.in_flight, timeout=timeout,
          return_when=concurrent.futures.FIRST_COMPLETED)
    if not done:
      return None
    future = next(iter(done))
    tag = self.in_flight.pop(future)
    slot = next(s for s in self.slots if s.future is future)
    slot.future = None
    try:
      return tag, future.result()
    except concurrent.futures.process.BrokenProcessPool:
      slot.pool.shutdown(wait=False)
      slot.pool = None  # Its next task gets a fresh worker.
      return tag, (None, self.broken, 0.0, 0)

  def close(self, wait=True):
    for slot in self.slots:
      if slot.pool is not None:
        slot.pool.shutdown(wait=wait, cancel_futures=True)

  def kill(self):
    """Kills the workers mid-task and waits until they are gone (their
    staging directories are then stale); in-flight tasks stay listed."""
    pools = [slot.pool for slot in self.slots if slot.pool is not None]
    # Python 3.14 has pool.kill_workers(); before it, the pool's processes.
    processes = [p for pool in pools
                 for p in (getattr(pool, "_processes", None) or {}).values()]
    for process in processes:
      process.kill()
    for process in processes:
      process.join()
    for slot in self.slots:
      if slot.pool is not None:
        slot.pool.shutdown(wait=True, cancel_futures=True)
      slot.pool, slot.future = None, None


class _InProcess:
  """Runs each task in this process when it is submitted, with the same
  functions as the workers (for callers that have TensorFlow loaded and want
  no process start-up: the test fixtures)."""

  def __init__(self):
    self.in_flight = []  # [(tag, result)], at most one.
    self.slot = _Slot()

  def has_room(self):
    return not self.in_flight

  def free_slot(self, keys=()):
    del keys
    return self.slot

  def submit(self, slot, tag, function, *args, key=None):
    del slot, key
    self.in_flight.append((tag, _timed(function, *args)))

  def next_done(self, timeout=None, wakeable=None):
    del timeout, wakeable
    return self.in_flight.pop()

  def close(self, wait=True):
    del wait

  def kill(self):
    pass


@dataclasses.dataclass(frozen=True)
class _Export:
  """Modules of a config built from one network, for one task."""
  cfg: object
  group: list              # [config.Module] (exporter.network_groups).
  digests: list            # Their inputs digests, found stale.
  prefix: str              # The config's checkpoint, ready to read.
  checkpoint_sha256: str
  key: object              # exporter.graph_key: None, or shared by configs.


def _take(exports, slot):
  """Removes and returns the first of `exports` whose graph key `slot`'s
  worker ran lately (its writers may keep the graph), else the first."""
  for i, export in enumerate(exports):
    if export.key is not None and export.key in slot.keys:
      del exports[i]
      return export
  return exports.popleft()


def _file_states(output_dir, modules):
  """{handle: (inode, mtime) of the module's directory and of its served
  archive, None where missing}: a worker publishing a module replaces both
  (renames), so a change says it had begun."""

  def state(path):
    try:
      st = os.stat(path)
    except FileNotFoundError:
      return None
    return st.st_ino, st.st_mtime_ns

  return {m.handle: (state(os.path.join(output_dir, m.handle)),
                     state(package.archive_path(output_dir, m.handle,
                                                m.format)))
          for m in modules}


def _undo_unfinished(output_dir, modules, before):
  """After workers were killed mid-task: removes each of `modules` whose
  files a worker had begun to replace (its directory and archive may not
  match each other or the manifest), with its manifest entry; the rest are
  as they were before the run."""
  now = _file_states(output_dir, modules)
  touched = [m for m in modules if now[m.handle] != before[m.handle]]
  for module in modules:
    archive = package.archive_path(output_dir, module.handle, module.format)
    # An archive being written (`package.serve`, `pack`: `<archive>.tmp-
    # <pid>`); this run held the module's lock, so it was one of ours.
    for tmp in glob.glob(glob.escape(archive) + ".tmp-*"):
      os.remove(tmp)
    if module in touched:
      shutil.rmtree(os.path.join(output_dir, module.handle),
                    ignore_errors=True)
      if os.path.exists(archive):
        os.remove(archive)
  if touched:
    manifest_lib.forget(output_dir, [m.handle for m in touched])


class _Woken(Exception):
  """Raised by SIGINT's handler to end a wait (`_Sigint.wakeable`)."""


class _Sigint:
  """True once SIGINT (Ctrl-C) came: noted instead of raising
  KeyboardInterrupt wherever it lands, so that the run stops between
  steps, never halfway through recording one; it ends a `wakeable()` wait
  at once."""

  def __init__(self):
    self.seen = self.waiting = False

  def __bool__(self):
    return self.seen

  def handle(self, signum, frame):
    del signum, frame
    self.seen = True
    if self.waiting:
      raise _Woken()

  @contextlib.contextmanager
  def wakeable(self):
    """A block (a wait, changing no state) that SIGINT ends."""
    self.waiting = True
    try:
      yield
    except _Woken:
      pass
    finally:
      self.waiting = False


@contextlib.contextmanager
def _sigint_noted(enabled):
  """Yields a `_Sigint` noting SIGINT while the block runs (only in the
  main thread, where signals go)."""
  noted = _Sigint()
  if not enabled or threading.current_thread() is not threading.main_thread():
    yield noted
    return
  previous = signal.signal(signal.SIGINT, noted.handle)
  try:
    yield noted
  finally:
    signal.signal(signal.SIGINT, previous)


def run(plans, source, output_dir, jobs=None, keep_going=False, force=False,
        out=sys.stdout, in_process=False, signer=None):
  """Exports what is stale among `plans`, a list of (cfg, [Planned]).

  Args:
    source: a sources.source.Source.
    signer: a publishing.signing.Signer signing every module, or None.
    jobs: worker processes (default: one per core).
    in_process: run every task here instead, one at a time (Ctrl-C then
      raises KeyboardInterrupt wherever it lands).

  Returns:
    [Result], one per planned module, in plan order.

  Raises:
    Interrupted: on SIGINT (not in_process), once the workers are gone and
      unfinished modules are undone.
  """
  with _sigint_noted(not in_process) as interrupted:
    return _run(plans, source, output_dir, jobs or os.cpu_count() or 1,
                keep_going, force, out, in_process, signer, interrupted)


def _run(plans, source, output_dir, jobs, keep_going, force, out,
         in_process, signer, interrupted):
  publish.remove_stale_staging(output_dir)
  entries = manifest_lib.load(output_dir)
  locks = manifest_lib.ModuleLocks(output_dir)
  order = [p.module.handle for _, planned in plans for p in planned]
  results = {}
  progress = _Progress(len(order), out)
  stop = False
  before = {}  # handle -> _file_states of a module handed to a worker.

  def finish(result, entry=None):
    nonlocal stop, entries
    results[result.handle] = result
    progress.report(result)
    if entry is not None:
      # Merged into the manifest as it is now: another run may share it.
      entries = manifest_lib.record(output_dir, [entry])
    if result.status == FAILED and not keep_going:
      stop = True

  def stale_of(export):
    """[(module, digest)] of a locked export that are still stale: another
    run may have exported some while this one waited for their locks
    (those are up to date now, and unlocked)."""
    cfg, group, digests = export.cfg, export.group, export.digests
    fresh = {} if force else manifest_lib.load(output_dir)
    still = []
    for module, digest in zip(group, digests):
      if manifest_lib.up_to_date(fresh.get(module.handle), output_dir,
                                 digest):
        finish(Result(module.handle, cfg.name, UP_TO_DATE))
        locks.release([module.handle])
      else:
        still.append((module, digest))
    return still

  def done(tag, outcome):
    """Takes in what a worker finished."""
    (task, cfg, what), (value, error, seconds, rss) = tag, outcome
    if task == "export":
      for i, module in enumerate(what):
        if error:
          finish(Result(module.handle, cfg.name, FAILED, seconds, error,
                        rss))
        else:
          entry, write_seconds, pack_seconds = value[i]
          finish(Result(module.handle, cfg.name, EXPORTED,
                        write_seconds + pack_seconds, None, rss,
                        pack_seconds, entry.report), entry)
      locks.release([m.handle for m in what])
      return
    if error:  # The config's checkpoint: all its modules fail with it.
      for p in what:
        finish(Result(p.module.handle, cfg.name, FAILED, seconds, error,
                      rss))
      return
    prefix, checkpoint_sha256 = value.prefix, value.sha256
    for message in value.messages:
      print(f"{cfg.name}: {message}", file=out, flush=True)
    stale = {}
    for p in what:
      digest = manifest_lib.inputs_digest(
          cfg, p.module, checkpoint_sha256,
          signer.identity() if signer else None)
      if not force and manifest_lib.up_to_date(
          entries.get(p.module.handle), output_dir, digest):
        finish(Result(p.module.handle, cfg.name, UP_TO_DATE))
      else:
        stale[p.module.handle] = digest
    # Modules built from one network are exported by one task.
    for group in exporter.network_groups(
        [p.module for p in what if p.module.handle in stale]):
      exports.append(_Export(
          cfg, group, [stale[m.handle] for m in group], prefix,
          checkpoint_sha256, exporter.graph_key(cfg, group)))

  workers = (_InProcess() if in_process else
             _Workers(jobs, _log_dir(source.cache_dir), TASKS_PER_WORKER))
  # Tasks not handed to a worker yet. Exports go first, so that a config's
  # modules follow its checkpoint and few checkpoints are open at a time.
  prepares = collections.deque(
      (("prepare", cfg, planned), source_lib.prepare, cfg, source)
      for cfg, planned in plans if planned)
  exports = collections.deque()
  waiting = []  # Exports whose modules another run is exporting.
  try:
    while not interrupted:
      while (not stop and not interrupted and (exports or prepares)
             and workers.has_room()):
        if not exports:
          tag, *call = prepares.popleft()
          # A checkpoint in place needs only its (remembered) digest: here,
          # with no worker started for it.
          ready = _timed(source_lib.in_place, tag[1], source)
          if ready[0] is not None:
            done(tag, ready)
          else:
            workers.submit(workers.free_slot(), tag, *call)
          continue
        slot = workers.free_slot([e.key for e in exports])
        export = _take(exports, slot)
        cfg, group = export.cfg, export.group
        if not locks.acquire([m.handle for m in group]):
          waiting.append(export)
          continue
        still = stale_of(export)
        if still:
          group = [m for m, _ in still]
          before.update(_file_states(output_dir, group))
          workers.submit(slot, ("export", cfg, group), export_and_pack, cfg,
                         group, export.prefix, export.checkpoint_sha256,
                         [d for _, d in still], output_dir, signer,
                         key=export.key)
      if interrupted:
        break
      if not workers.in_flight:
        if waiting and not stop:  # Only other runs' modules are left.
          with interrupted.wakeable():
            time.sleep(LOCK_POLL_SECONDS)
          exports.extend(waiting)
          waiting.clear()
          continue
        break
      exports.extend(waiting)
      waiting.clear()
      # A timeout, to notice Ctrl-C (and retry others' locks) meanwhile.
      finished = workers.next_done(timeout=LOCK_POLL_SECONDS,
                                   wakeable=interrupted.wakeable())
      if finished is not None:
        done(*finished)
    if interrupted:
      while workers.in_flight:  # Take in what is finished already.
        finished = workers.next_done(timeout=0)
        if finished is None:
          break
        done(*finished)
      workers.kill()
      # What the workers were writing: put back as it was, or removed.
      unfinished = [m for (task, _, what) in workers.in_flight.values()
                    if task == "export" for m in what]
      _undo_unfinished(output_dir, unfinished, before)
  except KeyboardInterrupt:
    workers.close(wait=False)
    raise
  finally:
    workers.close()
    locks.release_all()
  # Again at the end: a killed run's workers may have been still exiting
  # when this run started.
  publish.remove_stale_staging(output_dir)
  ordered = [results.get(h) or Result(h, "", NOT_RUN) for h in order]
  if interrupted:
    raise Interrupted(ordered)
  return ordered


def export_config(cfg, source, output_dir, only=None, force=False,
                  signer=None):
  """Exports `cfg`'s modules (or those in `only`) as `run` does, in this
  process and quietly: for callers that have TensorFlow loaded already
  (tests, benchmarks). Returns [Result]."""
  planned = exporter.plan(cfg, output_dir, only)
  return run([(cfg, planned)], source, output_dir, force=force,
             out=io.StringIO(), in_process=True, signer=signer)


def summary(results):
  """The table printed at the end of a run."""
  counts = collections.Counter(r.status for r in results)
  seconds = sum(r.seconds for r in results if r.status == EXPORTED)
  rows = [(EXPORTED, f"{counts[EXPORTED]}",
           f"{seconds:.0f}s of worker time" if counts[EXPORTED] else ""),
          (UP_TO_DATE, f"{counts[UP_TO_DATE]}", ""),
          (FAILED, f"{counts[FAILED]}", "")]
  if counts[NOT_RUN]:
    rows.append((NOT_RUN, f"{counts[NOT_RUN]}",
                 "stopped at the first failure (--keep_going runs all)"))
  lines = ["", f"{'modules':<11} {'count':>5}", f"{'-' * 11} {'-' * 5}"]
  lines += [f"{name:<11} {count:>5}  {note}".rstrip()
            for name, count, note in rows]
  peak = max((r.worker_peak_rss for r in results), default=0)
  if peak:
    lines.append(f"peak worker memory: {peak / 2**20:.0f} MiB")
  return "\n".join(lines)


def interrupted_summary(results):
  """The one line an interrupted run ends with: what is done, what is
  left."""
  counts = collections.Counter(r.status for r in results)
  done = [f"{counts[EXPORTED]} exported"] + [
      f"{counts[status]} {status}" for status in (UP_TO_DATE, FAILED)
      if counts[status]]
  return (f"interrupted: {len(results) - counts[NOT_RUN]} of {len(results)} "
          f"modules done ({', '.join(done)}), {counts[NOT_RUN]} not run; "
          "rerun the command to finish (what is done is kept)")


def summary_data(results):
  """The run's results as data (`--summary_json`), for scripts and tests."""
  counts = collections.Counter(r.status for r in results)
  return {
      "counts": {status: counts[status]
                 for status in (EXPORTED, UP_TO_DATE, FAILED, NOT_RUN)},
      "peak_worker_rss": max((r.worker_peak_rss for r in results),
                             default=0),
      "modules": [dataclasses.asdict(r) for r in results],
  }


def failures(results):
  """One `error:` paragraph per cause, naming the failed modules it took
  (all of a config's when its checkpoint is bad, a group's when its network
  is), in order."""
  by_cause = {}
  for r in results:
    if r.status == FAILED:
      by_cause.setdefault((r.config, r.error), []).append(r.handle)
  return [f"error: {', '.join(handles)} ({config}): " +
          error.replace("\n", "\n  ")
          for (config, error), handles in by_cause.items()]
