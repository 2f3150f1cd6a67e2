"""Serving an output directory the way model hubs' clients ask for models.

Above the manifest: `catalog` reads `<output_dir>/manifest.json` (and each
module's config, for its facts, card and Kaggle handle); `pages` writes the
static model pages and index; `nginx` writes the web server's configuration
that maps the tfhub.dev protocol onto the directory; `caches` fills
tensorflow_hub's and kagglehub's caches for machines without a network.
"""
