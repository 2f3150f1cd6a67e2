r"""Exports every module of one variant config (those not up to date).

  python -m export.one --config v1_050_160.yaml [--checkpoint P | --synthetic]
      [--output_dir D] [--only HANDLE ...] [--jobs N] [--force] [--dry_run]
      [--keep_going] [--cache_dir DIR] [--require_hashes]
      [--summary_json PATH]

Each module goes to `D/<handle>/`, e.g.
`D/google/imagenet/mobilenet_v1_050_160/feature_vector/3/`, built aside and
renamed into place, and is packed as `D/<handle>.tar.gz`; `D/manifest.json`
records each with its sha256, size, checkpoint sha256 and exporter version.
A module whose inputs did not change since it was exported is skipped.
Without --checkpoint the config's published archive is downloaded
(sha256-checked, cached in --cache_dir). Implemented by
`export.cli.exporting`, with `export.export_all`.
"""

from export.cli import exporting

if __name__ == "__main__":
  exporting.run(exporting.ONE)
