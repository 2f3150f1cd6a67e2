r"""export_all over the whole family on synthetic checkpoints: wall times.

  .venv/bin/python bench/family.py [--jobs 2,1] [--configs a,b] [--work_dir D]
  .venv/bin/python bench/family.py --side_by_side [--baseline a53d844]
      [--jobs 2] [--configs a,b] [--work_dir D]

Plain: for each --jobs value, a cold run (empty output and cache
directories, so synthetic checkpoints are written too), then for the first
value a no-op rerun. Prints JSON: wall seconds, modules exported / up to
date, the peak memory of any worker, worker seconds by architecture and
version, and the speed-up of the first --jobs over the last.

--side_by_side: the same family exported by a baseline commit and by this
checkout, one after the other on this machine. The baseline runs from a git
worktree, `.bench/baseline-<commit>` (kept between runs), set up by its own
scripts/setup.sh (without Bazel). In turn: the baseline cold and no-op; this
checkout cold and no-op on the baseline's configs (so the same artifacts);
then this checkout cold on its own configs, whose modules of formats the
baseline did not have are reported apart. Then every file of every module
the two wrote is compared byte for byte, and so is each served archive
(`.tar.gz`, `.tflite`). The JSON holds both sides' runs and
`cold_ratio`: this checkout's cold wall time over the baseline's. The work
directory holds three whole outputs (about 35 GB for the family).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BASELINE = "a53d844"


def export_all(out, cache, jobs, configs, repo=REPO, python=sys.executable):
  """Runs `export.export_all` of the checkout `repo` with `python`; returns
  what the report shows of it."""
  summary_path = os.path.join(cache, "summary.json")
  args = [python, "-m", "export.export_all", "--synthetic",
          f"--output_dir={out}", f"--cache_dir={cache}", f"--jobs={jobs}",
          f"--summary_json={summary_path}"]
  if configs:
    args.append(f"--configs={','.join(configs)}")
  start = time.monotonic()
  result = subprocess.run(args, cwd=repo, capture_output=True, text=True)
  seconds = time.monotonic() - start
  if result.returncode != 0:
    sys.exit(f"export_all of {repo} failed ({result.returncode}):\n"
             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
  with open(summary_path) as f:
    summary = json.load(f)
  return {"wall_seconds": round(seconds, 1),
          "exported": summary["counts"]["exported"],
          "up_to_date": summary["counts"]["up to date"],
          "peak_worker_rss_mib": round(summary["peak_worker_rss"] / 2**20),
          "worker_seconds": round(sum(
              m["seconds"] for m in summary["modules"]
              if m["status"] == "exported"), 1),
          "pack_seconds": round(sum(
              m.get("pack_seconds", 0.0) for m in summary["modules"]
              if m["status"] == "exported"), 1),
          "worker_seconds_by_version": _by_version(summary["modules"])}


def _by_version(modules):
  """{"v1 4": [modules exported, their worker seconds, of which packing],
  ...}: where the time goes, by architecture, version and quantization
  ("q")."""
  totals = {}
  for m in modules:
    if m["status"] != "exported":
      continue
    name = next(p for p in m["handle"].split("/")
                if p.startswith("mobilenet_"))  # mobilenet_v1_050_160
    parts = m["handle"].split("/")
    if parts[1] == "lite-model":  # tensorflow/lite-model/<name>/1/<v>/1
      key = (f"{name.split('_')[1]}{' q' if '_quantized' in name else ''}"
             f" lite {parts[4]}")
    elif parts[1] == "tfjs-model":  # google/tfjs-model/imagenet/.../<v>/default/1
      key = f"{name.split('_')[1]} tfjs {parts[-3]}"
    elif parts[1] == "onnx-model":  # .../<kind>/5/default/1, .../1/<kind>/1
      key = (f"{name.split('_')[1]}{' q' if '_quantized' in name else ''}"
             f" onnx")
    else:
      key = (f"{name.split('_')[1]}"
             f"{' q' if '/quantops/' in m['handle'] else ''}"
             f" {m['handle'].rsplit('/', 1)[1]}")
    count, seconds, packing = totals.get(key, (0, 0.0, 0.0))
    totals[key] = (count + 1, seconds + m["seconds"],
                   packing + m.get("pack_seconds", 0.0))
  return {k: [c, round(s, 1), round(p, 1)]
          for k, (c, s, p) in sorted(totals.items())}


def by_format(by_version):
  """`_by_version` summed by format: TF1 (versions 1-3, quantops), TF2
  (4, 5), Lite, TF.js, ONNX."""
  totals = {}
  for key, (count, seconds, packing) in by_version.items():
    words = key.split()
    fmt = next((w for w in words if w in ("lite", "tfjs", "onnx")),
               "tf2" if words[-1] in ("4", "5") else "tf1")
    c, s, p = totals.get(fmt, (0, 0.0, 0.0))
    totals[fmt] = (c + count, s + seconds, p + packing)
  return {k: [c, round(s, 1), round(p, 1)] for k, (c, s, p) in
          sorted(totals.items())}


def _cold_and_noop(work, name, jobs, configs, noop=True, **checkout):
  out, cache = os.path.join(work, f"out_{name}"), os.path.join(
      work, f"cache_{name}")
  shutil.rmtree(out, ignore_errors=True)
  shutil.rmtree(cache, ignore_errors=True)
  run = {"cold": export_all(out, cache, jobs, configs, **checkout)}
  run["cold"]["worker_seconds_by_format"] = by_format(
      run["cold"]["worker_seconds_by_version"])
  if noop:
    run["noop_rerun"] = export_all(out, cache, jobs, configs, **checkout)
  print(json.dumps({name: run}), file=sys.stderr, flush=True)
  return run, out


def plain(args, work):
  report = {"configs": args.configs or "all", "cores": os.cpu_count(),
            "runs": {}}
  jobs = [int(j) for j in args.jobs.split(",")]
  configs = args.configs.split(",") if args.configs else []
  for n in jobs:
    report["runs"][f"jobs_{n}"], _ = _cold_and_noop(
        work, f"j{n}", n, configs, noop=n == jobs[0])
  if len(jobs) > 1:
    first = report["runs"][f"jobs_{jobs[0]}"]["cold"]["wall_seconds"]
    last = report["runs"][f"jobs_{jobs[-1]}"]["cold"]["wall_seconds"]
    report[f"speedup_jobs_{jobs[0]}_over_jobs_{jobs[-1]}"] = round(last / first, 2)
  return report


# --- Side by side ---------------------------------------------------------------


def baseline_checkout(commit):
  """The baseline's worktree `.bench/baseline-<commit>`, made if missing
  and set up by its own scripts/setup.sh (idempotent: quick when done).
  Returns (its directory, its python)."""
  directory = os.path.join(REPO, ".bench", f"baseline-{commit}")
  if not os.path.isdir(directory):
    subprocess.run(["git", "worktree", "add", "--detach", directory, commit],
                   cwd=REPO, check=True, capture_output=True)
  subprocess.run(["bash", "scripts/setup.sh"], cwd=directory, check=True,
                 env=dict(os.environ, SETUP_BAZEL="0"),
                 stdout=sys.stderr)
  return directory, os.path.join(directory, ".venv", "bin", "python")


def _files(root):
  """{path below root: sha256} of the regular files below `root`, but the
  manifest (which records this checkout's version)."""
  hashes = {}
  for directory, _, names in os.walk(root):
    for name in names:
      path = os.path.join(directory, name)
      relative = os.path.relpath(path, root)
      if relative in ("manifest.json",) or relative.startswith("."):
        continue
      with open(path, "rb") as f:
        hashes[relative] = hashlib.sha256(f.read()).hexdigest()
  return hashes


def compare_outputs(baseline_out, our_out):
  """Byte comparison of two output trees: module files apart from the
  served archives (`.tar.gz`, which hold the same files packed)."""
  theirs, ours = _files(baseline_out), _files(our_out)
  archives = {p for p in set(theirs) | set(ours) if p.endswith(".tar.gz")}
  files = (set(theirs) | set(ours)) - archives
  differ = sorted(p for p in files if theirs.get(p) != ours.get(p))
  archives_differ = sorted(p for p in archives
                           if theirs.get(p) != ours.get(p))
  return {"module_files": len(files), "module_files_differing": len(differ),
          "module_files_differing_first": differ[:20],
          "archives": len(archives),
          "archives_differing": len(archives_differ),
          "archives_differing_first": archives_differ[:5]}


def side_by_side(args, work):
  directory, python = baseline_checkout(args.baseline)
  names = args.configs.split(",") if args.configs else sorted(
      n[:-len(".yaml")] for n in os.listdir(os.path.join(directory, "configs"))
      if n.endswith(".yaml"))
  # This checkout exports the baseline's config files: the same artifacts.
  baseline_configs = [os.path.join(directory, "configs", f"{n}.yaml")
                      for n in names]
  jobs = int(args.jobs.split(",")[0])
  report = {"baseline": args.baseline, "configs": args.configs or "all",
            "cores": os.cpu_count(), "jobs": jobs,
            "by_version_and_format_columns": [
                "modules", "worker seconds", "of which packing"]}
  report["baseline_run"], baseline_out = _cold_and_noop(
      work, "baseline", jobs, names, repo=directory, python=python)
  report["this_checkout_run"], our_out = _cold_and_noop(
      work, "this", jobs, baseline_configs)
  ours = [os.path.join(REPO, "configs", f"{n}.yaml") for n in names]
  report["this_checkout_all_formats"], _ = _cold_and_noop(
      work, "this_all", jobs, [p for p in ours if os.path.exists(p)],
      noop=True)
  base = report["baseline_run"]["cold"]
  this = report["this_checkout_run"]["cold"]
  report["cold_ratio"] = round(this["wall_seconds"] / base["wall_seconds"], 3)
  report["worker_seconds_ratio"] = round(
      this["worker_seconds"] / base["worker_seconds"], 3)
  known = set(base["worker_seconds_by_version"])
  report["new_formats"] = {
      k: v for k, v in
      report["this_checkout_all_formats"]["cold"][
          "worker_seconds_by_version"].items() if k not in known}
  report["outputs"] = compare_outputs(baseline_out, our_out)
  return report


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--jobs", default="2,1")
  parser.add_argument("--configs", default="",
                      help="Comma-separated config names (default: all).")
  parser.add_argument("--work_dir", default=None)
  parser.add_argument("--side_by_side", action="store_true",
                      help="Export with a baseline commit, then this "
                      "checkout, and compare.")
  parser.add_argument("--baseline", default=DEFAULT_BASELINE,
                      help="The baseline commit of --side_by_side.")
  args = parser.parse_args()
  work = args.work_dir or tempfile.mkdtemp(prefix="bench_family_")
  report = (side_by_side if args.side_by_side else plain)(args, work)
  if not args.work_dir:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
