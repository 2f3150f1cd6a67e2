r"""Fills offline caches so unchanged code loads the exported modules.

  python -m export.cache --output_dir D [--tfhub_cache DIR]
      [--kagglehub_cache DIR]

Then `TFHUB_CACHE_DIR=DIR` makes `hub.load("https://tfhub.dev/<handle>")`
load the local module, and `KAGGLEHUB_CACHE=DIR` makes
`kagglehub.model_download("<Kaggle handle>")` return it, with no network.
Implemented by `export.cli.cache`.
"""

from export.cli import cache

if __name__ == "__main__":
  cache.run()
