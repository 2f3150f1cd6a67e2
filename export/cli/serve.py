"""`python -m export.serve`: serves an output directory as a hub (nginx).

Writes the model pages and the nginx configuration into --site_dir
(default `<output_dir>/.hub/`, which is never served), then runs nginx in
the foreground until Ctrl-C (exit 130) or SIGTERM (exit 0). With
--pages_only it writes them and exits: run nginx yourself with
`nginx -c <site_dir>/nginx.conf` (production), or copy `<site_dir>/pages`
and the output directory to any static host.
"""

import os
import shutil
import signal
import subprocess
import sys

from absl import flags

from export.cli import common as cli
from export.core import config as config_lib
from export.publishing import manifest
from export.serving import catalog
from export.serving import nginx
from export.serving import pages

FLAGS = flags.FLAGS
SITE_DIR = ".hub"


def define_flags():
  flags.DEFINE_string("output_dir", None,
                      "The export's output directory (manifest.json says "
                      "what it holds).")
  flags.mark_flag_as_required("output_dir")
  flags.DEFINE_string("site_dir", None,
                      "Where the pages, nginx.conf and nginx's run files go. "
                      f"Default: <output_dir>/{SITE_DIR}.")
  flags.DEFINE_string("host", "127.0.0.1",
                      "Address to listen on (0.0.0.0: every interface).")
  flags.DEFINE_integer("port", 8000, "Port to listen on.", lower_bound=1,
                       upper_bound=65535)
  flags.DEFINE_string("base_url", None,
                      "The hub's public URL, used in the pages' usage "
                      "snippets. Default: http://<host>:<port>.")
  flags.DEFINE_bool("pages_only", False,
                    "Write the pages and nginx.conf, then exit.")
  flags.DEFINE_string("nginx", shutil.which("nginx") or "/usr/sbin/nginx",
                      "The nginx binary.")
  flags.DEFINE_string("user", None,
                      "The nginx workers' user when nginx starts as root "
                      "(e.g. www-data in production). Default: the user "
                      "running this command.")
  flags.DEFINE_string("configs_dir", config_lib.CONFIGS_DIR,
                      "Where the modules' configs are (for their facts and "
                      "cards).")


def prepare(output_dir, site_dir, host, port, base_url,
            configs_dir=config_lib.CONFIGS_DIR, user=None):
  """Writes the pages and nginx.conf; returns the config's path.

  Raises:
    app.UsageError: no manifest in `output_dir`.
  """
  if not os.path.isfile(os.path.join(output_dir, manifest.FILENAME)):
    raise cli.app.UsageError(
        f"--output_dir: {output_dir} has no {manifest.FILENAME}; expected "
        "the output directory of an export (python -m export.one ...)")
  items = catalog.load(output_dir, configs_dir)
  pages.write(items, os.path.join(site_dir, nginx.PAGES_DIR),
              base_url.rstrip("/"))
  return (nginx.write(items, output_dir, site_dir, host, port, user),
          len(items))


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  out = FLAGS.output_dir
  site = FLAGS.site_dir or os.path.join(out, SITE_DIR)
  host = FLAGS.host
  url_host = f"[{host}]" if ":" in host else host
  base_url = FLAGS.base_url or f"http://{url_host}:{FLAGS.port}"
  conf, count = prepare(out, site, host, FLAGS.port, base_url,
                        FLAGS.configs_dir, FLAGS.user)
  print(f"{count} modules; pages in {os.path.join(site, nginx.PAGES_DIR)}, "
        f"config {conf}", flush=True)
  if FLAGS.pages_only:
    return cli.EXIT_OK
  if not os.access(FLAGS.nginx, os.X_OK):
    raise cli.app.UsageError(f"--nginx: {FLAGS.nginx} is not an executable; "
                             "expected nginx (Debian: apt-get install "
                             "nginx-light)")
  server = subprocess.Popen(
      [FLAGS.nginx, "-c", os.path.abspath(conf), "-p",
       os.path.abspath(site), "-g", "daemon off;"])
  stopped = []

  def stop(signum, frame):
    del signum, frame
    stopped.append(True)
    server.terminate()

  signal.signal(signal.SIGTERM, stop)
  # Ctrl-C even where the shell started us with SIGINT ignored (`cmd &`).
  signal.signal(signal.SIGINT, signal.default_int_handler)
  print(f"serving {out} at http://{url_host}:{FLAGS.port}/ (Ctrl-C stops)",
        flush=True)
  try:
    status = server.wait()
  except KeyboardInterrupt:
    server.terminate()
    server.wait()
    print("interrupted", file=sys.stderr)
    return cli.EXIT_INTERRUPTED
  if stopped:
    return cli.EXIT_OK
  print(f"error: nginx exited with status {status}", file=sys.stderr)
  return cli.EXIT_FAILURE


def run():
  define_flags()
  cli.run(main)
