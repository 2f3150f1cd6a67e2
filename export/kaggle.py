r"""Publishes an export's modules to Kaggle Models.

  python -m export.kaggle --output_dir=D [--owner=SLUG |
      --owner=google=SLUG,tensorflow=SLUG] [--configs=v1_050_160,...]
      [--only=HANDLE ...] [--public] [--dry_run] [--staging_dir=S]
  bazel run //export:kaggle -- --output_dir=D ...

Each module recorded in D/manifest.json goes to
`<owner>/<model>/<framework>/<variation>/<version>` as Google's MobileNets
are laid out there (destinations/kaggle_layout.py), with the official
kagglehub client; reruns publish only what is missing. Credentials as
kagglehub reads them (KAGGLE_API_TOKEN, KAGGLE_USERNAME/KAGGLE_KEY,
kaggle.json). Implemented by `export.cli.publishing`.
"""

from export.cli import publishing

if __name__ == "__main__":
  publishing.run()
