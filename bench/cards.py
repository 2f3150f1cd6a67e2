r"""Time to render every model card, in a fresh process (imports included).

  .venv/bin/python bench/cards.py [--runs 5]

Prints JSON: the median wall time of `python -m export.cards --check` and of
rendering in-process, and the number of cards.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--runs", type=int, default=5)
  args = parser.parse_args()
  cli = []
  for _ in range(args.runs):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "export.cards", "--check"],
                   cwd=REPO, check=True, capture_output=True)
    cli.append(time.perf_counter() - start)
  from export import cards  # pylint: disable=g-import-not-at-top
  from export.core import config
  rendered = []
  for _ in range(args.runs):
    start = time.perf_counter()
    count = len(cards.render_all(config.load_all()))
    rendered.append(time.perf_counter() - start)
  print(json.dumps({
      "cards": count,
      "cli_check_seconds_median": round(statistics.median(cli), 3),
      "render_all_seconds_median": round(statistics.median(rendered), 3)},
                   indent=1))


if __name__ == "__main__":
  main()
