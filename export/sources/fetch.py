"""Downloading published checkpoint archives into a verified cache.

Downloads go to a temporary file in the cache and are renamed into place only
when complete and, if the config pins one, matching the sha256. So a
truncated, interrupted or corrupted download never poisons the cache, and a
cached archive is used again without network.
"""

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

CACHE_ENV = "EXPORT_CACHE_DIR"
CHUNK = 1 << 20


class FetchError(RuntimeError):
  """A download failed or did not verify; the message names URL and cause."""


class HashMismatchError(FetchError):
  """The downloaded archive is not the one the config pins; not retried."""


def default_cache_dir():
  """`$EXPORT_CACHE_DIR`, else the per-user cache directory."""
  if os.environ.get(CACHE_ENV):
    return os.environ[CACHE_ENV]
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
      os.path.expanduser("~"), ".cache")
  return os.path.join(base, "tfhub_export")


def sha256_of(path):
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(CHUNK), b""):
      digest.update(block)
  return digest.hexdigest()


def cached_archive_path(cache_dir, url):
  """Where the archive of `url` is cached (keyed by URL, not trusted blindly:
  a pinned hash is checked again on use)."""
  key = hashlib.sha256(url.encode()).hexdigest()[:16]
  name = os.path.basename(urllib.parse.urlparse(url).path)
  return os.path.join(cache_dir, "archives", key, name)


class _Progress:
  """A one-line progress bar on a terminal; silent in logs and CI."""

  def __init__(self, url, total, stream=sys.stderr):
    self.enabled = stream.isatty() and not os.environ.get("CI")
    self.url, self.total, self.stream, self.done = url, total, stream, 0

  def update(self, n):
    self.done += n
    if self.enabled:
      if self.total:
        pct = 100 * self.done // self.total
        bar = "#" * (pct // 4)
        self.stream.write(f"\r{os.path.basename(self.url)} [{bar:<25}] {pct}%")
      else:
        self.stream.write(f"\r{os.path.basename(self.url)} {self.done >> 20} MiB")
      self.stream.flush()

  def close(self):
    if self.enabled:
      self.stream.write("\n")


def _download_once(url, dest_file, timeout):
  # The socket timeout bounds the connect and every read, so a stalled server
  # fails the attempt instead of hanging the export.
  with urllib.request.urlopen(url, timeout=timeout) as response:
    total = int(response.headers.get("Content-Length") or 0)
    progress = _Progress(url, total)
    received = 0
    try:
      while True:
        block = response.read(CHUNK)
        if not block:
          break
        dest_file.write(block)
        received += len(block)
        progress.update(len(block))
    finally:
      progress.close()
    if total and received != total:
      raise FetchError(f"{url}: truncated download ({received} of {total} "
                       "bytes)")


def fetch(url, cache_dir, sha256=None, require_hash=False, retries=3,
          timeout=30.0, backoff=1.0, log=print):
  """Returns the path of the verified archive of `url` in `cache_dir`.

  Args:
    url: http(s) URL of the archive.
    cache_dir: cache root.
    sha256: the pinned hash, or None.
    require_hash: refuse archives without a pinned hash (like pip's
      hash-checking mode).
    retries: attempts after the first, with exponential backoff, for network
      errors and 5xx answers (not for 4xx or hash mismatches).
    timeout: seconds allowed for connecting and for each read.
  """
  if sha256 is None and require_hash:
    raise FetchError(f"{url}: no sha256 pinned in the config, and hashes are "
                     "required (--require_hashes)")
  path = cached_archive_path(cache_dir, url)
  if os.path.isfile(path):
    actual = sha256_of(path)
    if sha256 is None or actual == sha256:
      return path
    log(f"warning: cached {path} has sha256 {actual}, expected {sha256}; "
        "downloading again")
    os.remove(path)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  last_error = None
  for attempt in range(retries + 1):
    if attempt:
      time.sleep(backoff * 2 ** (attempt - 1))
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=os.path.dirname(path))
    try:
      with os.fdopen(fd, "wb") as f:
        _download_once(url, f, timeout)
      actual = sha256_of(tmp)
      if sha256 is not None and actual != sha256:
        raise HashMismatchError(f"{url}: sha256 mismatch: got {actual}, "
                                f"config pins {sha256}")
      if sha256 is None:
        _record_unpinned(cache_dir, url, actual)
        log(f"warning: {url} has no pinned sha256; downloaded archive has "
            f"sha256 {actual}, recorded in {unpinned_record(cache_dir)} "
            "(pin it as checkpoint.sha256 after review)")
      os.replace(tmp, path)
      return path
    except urllib.error.HTTPError as e:
      last_error = FetchError(f"{url}: HTTP {e.code} {e.reason}")
      if e.code < 500:
        break
    except HashMismatchError as e:
      last_error = e
      break
    except FetchError as e:
      last_error = e
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
      reason = getattr(e, "reason", None) or e
      last_error = FetchError(f"{url}: {reason}")
    finally:
      if os.path.exists(tmp):
        os.remove(tmp)
  _remove_empty_parents(os.path.dirname(path), cache_dir)
  raise last_error


def evict(archive, cache_dir):
  """Removes a cached archive that turned out unusable."""
  os.remove(archive)
  _remove_empty_parents(os.path.dirname(archive), cache_dir)


def unpinned_record(cache_dir):
  return os.path.join(cache_dir, "unpinned_sha256.txt")


def _record_unpinned(cache_dir, url, sha256):
  """Appends "<sha256>  <url>" for review; one line per distinct pair."""
  line = f"{sha256}  {url}\n"
  path = unpinned_record(cache_dir)
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      if line in f.readlines():
        return
  with open(path, "a", encoding="utf-8") as f:
    f.write(line)


def _remove_empty_parents(directory, root):
  """Leaves the cache as it was: no empty directories from a failed fetch."""
  root = os.path.abspath(root)
  directory = os.path.abspath(directory)
  while directory != root and directory.startswith(root + os.sep):
    try:
      os.rmdir(directory)
    except OSError:
      return
    directory = os.path.dirname(directory)
