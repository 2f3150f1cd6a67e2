r"""Publishing to Kaggle Models: dry run of the family, publish and rerun.

  .venv/bin/python bench/kaggle.py [--rounds 3] [--config v1_050_160]

* dry run: `python -m export.kaggle --dry_run` over every config (786
  versions; no export needed), seconds per run (median of --rounds);
* publish: the config's synthetic export (exported once, not timed)
  published through the real kagglehub client to the loopback stand-in of
  the tests (tests/kaggle_stand_in.py), seconds and bytes, then the rerun
  (reads only) and the share of the publish spent checking files against
  the manifest (hashing); medians of --rounds, each round on a fresh
  service and a fresh copy of the manifest.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tests import kaggle_stand_in  # pylint: disable=g-import-not-at-top,wrong-import-position


def _env():
  env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE")}
  env.update(KAGGLE_API_ENVIRONMENT="TEST",
             KAGGLE_API_TOKEN=kaggle_stand_in.TOKEN, PYTHONPATH=REPO)
  return env


def _timed(args):
  start = time.perf_counter()
  result = subprocess.run([sys.executable, "-m", "export.kaggle", *args],
                          cwd=REPO, env=_env(), capture_output=True,
                          text=True)
  seconds = time.perf_counter() - start
  if result.returncode != 0:
    raise RuntimeError(result.stderr[-2000:])
  return seconds, result.stdout


def _check_seconds(out, config):
  """Seconds to check every version's files against the manifest."""
  from export.core import config as config_lib  # pylint: disable=g-import-not-at-top
  from export.destinations import kaggle_plan  # pylint: disable=g-import-not-at-top
  from export.publishing import manifest  # pylint: disable=g-import-not-at-top
  plan = kaggle_plan.plan([config_lib.load(config)], out)
  entries = manifest.load(out)
  start = time.perf_counter()
  for version in plan.versions:
    kaggle_plan.module_files(version, entries, out)
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--config", default="v1_050_160")
  args = parser.parse_args()
  work = tempfile.mkdtemp(prefix="bench-kaggle-")
  try:
    dry = [_timed([f"--output_dir={work}", "--dry_run"])[0]
           for _ in range(args.rounds)]
    out = os.path.join(work, "out")
    subprocess.run([sys.executable, "-m", "export.one",
                    f"--config={args.config}", "--synthetic",
                    f"--output_dir={out}",
                    f"--cache_dir={os.path.join(work, 'cache')}"],
                   cwd=REPO, check=True, capture_output=True)
    pristine = os.path.join(work, "manifest.json")
    shutil.copyfile(os.path.join(out, "manifest.json"), pristine)
    publish, rerun, check = [], [], []
    with kaggle_stand_in.StandIn() as stand_in:
      for _ in range(args.rounds):
        shutil.copyfile(pristine, os.path.join(out, "manifest.json"))
        state = stand_in.use(kaggle_stand_in.State())
        publish.append(_timed([f"--output_dir={out}",
                               f"--configs={args.config}"])[0])
        rerun.append(_timed([f"--output_dir={out}",
                             f"--configs={args.config}"])[0])
        check.append(_check_seconds(out, args.config))
    versions = sum(len(i["versions"]) for i in state.instances.values())
    size = sum(len(d) for i in state.instances.values()
               for v in i["versions"] for d in v["files"].values())
    report = {
        "dry_run_whole_family_seconds": round(statistics.median(dry), 2),
        "config": args.config,
        "versions": versions,
        "bytes_uploaded": size,
        "publish_seconds": round(statistics.median(publish), 2),
        "rerun_seconds": round(statistics.median(rerun), 2),
        "file_check_seconds": round(statistics.median(check), 2),
        "rounds": args.rounds,
    }
    print(json.dumps(report, indent=2))
  finally:
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  main()
