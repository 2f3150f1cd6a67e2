r"""Serves an output directory as a tfhub.dev-compatible hub, with pages.

  python -m export.serve --output_dir D [--host 127.0.0.1] [--port 8000]
      [--base_url URL] [--site_dir S] [--pages_only]

`hub.load("http://HOST:PORT/<handle>")`, `hub.Module(...)`,
`tf.loadGraphModel(url, {fromTFHub: true})` and `?lite-format=tflite` get
the exported files; `/` and `/<handle>` in a browser are the model pages.
nginx does the serving. Implemented by `export.cli.serve`.
"""

from export.cli import serve

if __name__ == "__main__":
  serve.run()
