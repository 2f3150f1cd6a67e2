r"""On-disk size of each module kind against its parameter bytes.

  .venv/bin/python bench/module_size.py [--configs v1_100_224,...]

Exports every module of the given configs (default: for each architecture,
multiplier and quantization, the config with the smallest input size, so
every parameter layout of the family) from synthetic checkpoints and prints
JSON per module: parameter bytes (float32 values of the variables it
holds, from the architecture tables), the size of its `variables/` and of
the whole directory, and their ratios to the parameter bytes. The targets:
variables at most 1.02x the parameters, the module at most that plus 1 MiB.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def tree_bytes(path):
  return sum(os.path.getsize(os.path.join(d, f))
             for d, _, files in os.walk(path) for f in files)


def _one_per_layout(config):
  """Per (architecture, multiplier, quantized), the smallest input size:
  the parameters do not depend on the input size, the graphs barely."""
  smallest = {}
  for path in sorted(os.listdir(config.CONFIGS_DIR)):
    if path.endswith(".yaml"):
      cfg = config.load(path[:-len(".yaml")])
      key = (cfg.architecture, cfg.depth_multiplier, cfg.quantized)
      if key not in smallest or cfg.input_size < smallest[key].input_size:
        smallest[key] = cfg
  return [cfg.name for _, cfg in sorted(smallest.items())]


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--configs", default="")
  args = parser.parse_args()
  from export.core import config  # pylint: disable=g-import-not-at-top
  from export.pipeline import exporter
  from export.pipeline import runner
  from export.sources import source
  names = args.configs.split(",") if args.configs else _one_per_layout(config)
  report, worst = {}, {"variables_ratio": 0.0, "module_overhead_mib": 0.0}
  work = tempfile.mkdtemp(prefix="bench_size_")
  try:
    for name in names:
      cfg = config.load(name)
      out = os.path.join(work, "out")
      # As export_all exports them (modules with the same files once).
      runner.export_config(cfg, source.Source(
          synthetic=True, cache_dir=os.path.join(work, "cache")), out)
      for module in cfg.modules:
        path = os.path.join(out, module.handle)
        layout = exporter.module_layout(cfg, module)
        params = sum(int(np.prod(shape)) * 4 for shape in layout.values())
        variables = tree_bytes(os.path.join(path, "variables"))
        total = tree_bytes(path)
        entry = {
            "parameter_bytes": params, "variables_bytes": variables,
            "module_bytes": total,
            "variables_ratio": round(variables / params, 4),
            "module_overhead_mib": round((total - variables) / 2**20, 3),
            "within_targets": (variables <= 1.02 * params and
                               total <= 1.02 * params + 2**20)}
        report[module.handle] = entry
        for key in ("variables_ratio", "module_overhead_mib"):
          worst[key] = max(worst[key], entry[key])
        worst["all_within_targets"] = worst.get(
            "all_within_targets", True) and entry["within_targets"]
  finally:
    shutil.rmtree(work, ignore_errors=True)
  worst["modules_over_targets"] = sorted(
      h for h, e in report.items() if not e["within_targets"])
  print(json.dumps({"configs": names, "modules": report, "worst": worst},
                   indent=1))


if __name__ == "__main__":
  main()
