r"""export_all over the whole family on synthetic checkpoints: wall times.

  .venv/bin/python bench/family.py [--jobs 2,1] [--configs a,b] [--work_dir D]

For each --jobs value: a cold run (empty output and cache directories, so
synthetic checkpoints are written too), then for the first value a no-op
rerun. Prints JSON: wall seconds, modules exported / up to date, the peak
memory of any worker, worker seconds by architecture and version, and the
speed-up of the first --jobs over the last.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def export_all(out, cache, jobs, configs):
  summary_path = os.path.join(cache, "summary.json")
  args = [sys.executable, "-m", "export.export_all", "--synthetic",
          f"--output_dir={out}", f"--cache_dir={cache}", f"--jobs={jobs}",
          f"--summary_json={summary_path}"]
  if configs:
    args.append(f"--configs={configs}")
  start = time.monotonic()
  result = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
  seconds = time.monotonic() - start
  if result.returncode != 0:
    sys.exit(f"export_all failed ({result.returncode}):\n"
             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
  with open(summary_path) as f:
    summary = json.load(f)
  return {"wall_seconds": round(seconds, 1),
          "exported": summary["counts"]["exported"],
          "up_to_date": summary["counts"]["up to date"],
          "peak_worker_rss_mib": round(summary["peak_worker_rss"] / 2**20),
          "worker_seconds_by_version": _by_version(summary["modules"])}


def _by_version(modules):
  """{"v1 4": [modules exported, their worker seconds], ...}: where the
  time goes, by architecture, version and quantization ("q")."""
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
    count, seconds = totals.get(key, (0, 0.0))
    totals[key] = (count + 1, seconds + m["seconds"])
  return {k: [c, round(s, 1)] for k, (c, s) in sorted(totals.items())}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--jobs", default="2,1")
  parser.add_argument("--configs", default="",
                      help="Comma-separated config names (default: all).")
  parser.add_argument("--work_dir", default=None)
  args = parser.parse_args()
  work = args.work_dir or tempfile.mkdtemp(prefix="bench_family_")
  report = {"configs": args.configs or "all", "cores": os.cpu_count(),
            "runs": {}}
  jobs = [int(j) for j in args.jobs.split(",")]
  for n in jobs:
    out, cache = os.path.join(work, f"out_j{n}"), os.path.join(work, f"cache_j{n}")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    run = {"cold": export_all(out, cache, n, args.configs)}
    if n == jobs[0]:
      run["noop_rerun"] = export_all(out, cache, n, args.configs)
    report["runs"][f"jobs_{n}"] = run
    print(json.dumps({f"jobs_{n}": run}), file=sys.stderr, flush=True)
  if len(jobs) > 1:
    first = report["runs"][f"jobs_{jobs[0]}"]["cold"]["wall_seconds"]
    last = report["runs"][f"jobs_{jobs[-1]}"]["cold"]["wall_seconds"]
    report[f"speedup_jobs_{jobs[0]}_over_jobs_{jobs[-1]}"] = round(last / first, 2)
  if not args.work_dir:
    shutil.rmtree(work, ignore_errors=True)
  print(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
