"""The nginx configuration that serves an output directory as a hub.

tfhub.dev's protocol, as its clients speak it:
  GET /<handle>?tf-hub-format=compressed  the module's .tar.gz (what
      tensorflow_hub's HttpCompressedFileResolver appends to a handle URL);
  GET /<handle>?lite-format=tflite        the bare .tflite file;
  GET /<handle>/model.json?tfjs-format=file, and the weight files beside
      it with the same query (tf.loadGraphModel(url, {fromTFHub: true}));
  GET /<handle>                           the model page; `/` the index.
The archives are looked up in a `map` written from the manifest (only
what it lists is served by query); every other path is a static file of
the pages directory, else of the output directory. nginx gives HEAD,
ETag / If-None-Match and Range for static files itself. Hidden names
(the exporter's `.staging-*` directories, this site directory) and
archives being written (`*.tmp-<pid>`) are never served, nor anything
through a symlink (`disable_symlinks`): the exporter renames finished
files into place, and nginx keeps reading the file it opened, so no
client gets a half-written or mixed archive.
"""

import getpass
import os

CONFIG_FILE = "nginx.conf"
PAGES_DIR = "pages"
RUN_DIR = "run"  # Temporary files, logs and pid of nginx.
_INTERNAL = "/.hub-files"  # Internal location of the archives.
# The longest request line (and header) nginx takes; longer ones get 414
# (or 400): far above any handle, small enough to refuse floods cheaply.
HEADER_BUFFER = "8k"

_TEMPLATE = """\
# Written by `python -m export.serve` for {output_dir}; regenerate it after
# exporting new modules (they are served by query only once listed here).
{user}worker_processes 2;
pid {run}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
  types {{
    text/html html;
    text/css css;
    application/json json;
    application/gzip gz;
    application/octet-stream bin tflite onnx pb;
  }}
  default_type application/octet-stream;
  charset utf-8;
  charset_types text/css application/json;  # And text/html.
  # Keys are whole handles, long beyond the default bucket.
  map_hash_bucket_size 256;
  map_hash_max_size 65536;
  sendfile on;
  server_tokens off;
  access_log {run}/access.log;
  client_body_temp_path {run}/body;
  proxy_temp_path {run}/proxy;
  fastcgi_temp_path {run}/fastcgi;
  uwsgi_temp_path {run}/uwsgi;
  scgi_temp_path {run}/scgi;
  client_header_buffer_size 1k;
  large_client_header_buffers 4 {buffer};

  # Which served form the query asks for.
  map $args $hub_form {{
    default "";
    "~(^|&)tf-hub-format=compressed(&|$)" compressed;
    "~(^|&)lite-format=tflite(&|$)" tflite;
  }}
  # form:/<handle> -> its archive, from the manifest.
  map "$hub_form:$uri" $hub_file {{
    default "";
{entries}
  }}
  map "$hub_form:$hub_file" $hub_action {{
    default "";
    "~^[a-z]+:$" missing;
    "~^[a-z]+:/" file;
  }}

  server {{
    listen {listen};
    root {pages};
    disable_symlinks on;
    etag on;
    add_header Access-Control-Allow-Origin "*" always;
    add_header Access-Control-Allow-Methods "GET, HEAD, OPTIONS" always;
    add_header Access-Control-Allow-Headers "Range, If-None-Match" always;
    add_header Access-Control-Expose-Headers "Content-Length, Content-Range, ETag, Accept-Ranges" always;

    # CORS preflight (other methods than GET and HEAD get 405).
    if ($request_method = OPTIONS) {{
      return 204;
    }}
    # Hidden names and archives being written.
    location ~ "(^|/)\\.|\\.tmp-[0-9]+$" {{
      return 404;
    }}
    location ^~ {internal}/ {{
      internal;
      alias {output_dir}/;
    }}
    location / {{
      if ($hub_action = missing) {{
        return 404;
      }}
      if ($hub_action = file) {{
        rewrite ^ {internal}$hub_file? last;
      }}
      try_files $uri $uri/index.html @exports;
    }}
    location @exports {{
      root {output_dir};
    }}
  }}
}}
"""


def _quote(text):
  return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(items, output_dir, site_dir, host, port, user=None):
  """The configuration text (deterministic for the same arguments).

  Args:
    user: the workers' user when nginx starts as root (default: the user
      running this, who can read the output directory).
  """
  lines = []
  for item in items:
    if item.query is None:
      continue
    form = item.query[1]
    archive = "/" + item.entry.archive
    for uri in (f"/{item.handle}", f"/{item.handle}/"):
      lines.append(f"    {_quote(f'{form}:{uri}')} {_quote(archive)};")
  # Workers keep the user that starts nginx: as root they would become
  # "nobody", who may not read the output directory.
  user = (f"user {user or getpass.getuser()};\n" if os.geteuid() == 0
          else "")
  listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
  return _TEMPLATE.format(
      output_dir=os.path.realpath(output_dir), user=user,
      run=os.path.join(os.path.realpath(site_dir), RUN_DIR),
      pages=os.path.join(os.path.realpath(site_dir), PAGES_DIR),
      buffer=HEADER_BUFFER, entries="\n".join(lines), listen=listen,
      internal=_INTERNAL)


def write(items, output_dir, site_dir, host, port, user=None):
  """Writes `<site_dir>/nginx.conf` (aside, then renamed) and the run
  directories nginx needs; returns the config's path."""
  run = os.path.join(site_dir, RUN_DIR)
  os.makedirs(run, exist_ok=True)
  path = os.path.join(site_dir, CONFIG_FILE)
  tmp = f"{path}.tmp-{os.getpid()}"
  with open(tmp, "w", encoding="utf-8") as f:
    f.write(render(items, output_dir, site_dir, host, port, user))
  os.replace(tmp, path)
  return path
