r"""Module sizes of two export trees, side by side.

  .venv/bin/python bench/tree_sizes.py BEFORE_DIR AFTER_DIR

For two output directories of `export.one` / `export_all` (e.g. of the same
configs exported by two versions of the exporter), prints JSON: per module
in both manifests, the bytes of its directory before and after and their
ratio, and the extremes of the ratio per format.
"""

import json
import os
import sys


def _module_bytes(output_dir):
  with open(os.path.join(output_dir, "manifest.json"), encoding="utf-8") as f:
    modules = json.load(f)["modules"]
  sizes = {}
  for handle, entry in modules.items():
    root = os.path.join(output_dir, handle)
    sizes[handle] = (entry["format"], sum(
        os.path.getsize(os.path.join(d, name))
        for d, _, names in os.walk(root) for name in names))
  return sizes


def main():
  before, after = map(_module_bytes, sys.argv[1:3])
  modules, by_format = {}, {}
  for handle in sorted(set(before) & set(after)):
    fmt, old = before[handle]
    ratio = round(after[handle][1] / old, 4)
    modules[handle] = {"before": old, "after": after[handle][1],
                       "ratio": ratio}
    low, high = by_format.get(fmt, (ratio, ratio))
    by_format[fmt] = (min(low, ratio), max(high, ratio))
  print(json.dumps({"ratio_range_by_format": by_format, "modules": modules},
                   indent=1))


if __name__ == "__main__":
  main()
