r"""Exports every module of every config (or of the configs named).

  python -m export.export_all --output_dir=D [--configs=v1_050_160,...]
      [--checkpoint_dir=C | --synthetic] [--jobs=N] [--keep_going] [--force]
      [--dry_run] [--summary_json=PATH]
  bazel run //export:export_all -- --output_dir=D ...

Modules are exported by --jobs worker processes (default: one per core), one
line each as they finish, then a summary table (exported / up to date /
failed, with the causes). A module whose inputs (config, checkpoint,
exporter version) did not change since it was exported is up to date and
skipped, so a rerun only exports what changed. Output: `D/<handle>/`,
`D/<handle>.tar.gz` and `D/manifest.json` (see `export.one`). The first
failure stops the run unless --keep_going; any failure exits 1.

Checkpoints: with --checkpoint_dir, each config's checkpoint is
`C/<config name>/` (a directory holding one checkpoint, or the published
archive inside it); with --synthetic, deterministic random checkpoints are
made (clearly not the published weights: for demos, tests and benchmarks);
otherwise the published archives are downloaded into the cache.
Implemented by `export.cli.exporting`, with `export.one`.
"""

from export.cli import exporting

if __name__ == "__main__":
  exporting.run(exporting.ALL)
