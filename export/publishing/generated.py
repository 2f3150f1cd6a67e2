"""Generated files written into a directory that may hold a user's own.

`python -m export.cards` writes the docs tree and `python -m export.family`
the configs, into directories a user may share with notes, configs of their
own, or a whole project (`--docs_dir .`). A generator therefore owns only the
files it wrote: their paths are listed in a record in the directory's root,
`.generated-by-<tool>` (one per tool, so two generators can share a
directory). A write replaces recorded files, removes recorded ones it no
longer generates, and refuses, before changing anything, to write where a
file it did not record exists. Nothing else is read, replaced or removed.

Each file is written aside and renamed into place. The record is updated
first with the union of the old and new paths and last with the new ones,
so an interrupted write leaves only files the record claims, and the rerun
finishes it.
"""

import dataclasses
import os

RECORD_PREFIX = ".generated-by-"


class TreeError(Exception):
  """A directory the generator may not write into as asked."""


def record_name(tool):
  """The record's file name in the root, e.g. `.generated-by-export.cards`."""
  return RECORD_PREFIX + tool


def record_text(tool, paths):
  """The record listing `paths` (deterministic: sorted, one a line)."""
  return (f"# The files `python -m {tool}` generated in this directory; it\n"
          "# replaces and removes only these. Written by it: do not edit.\n" +
          "".join(f"{p}\n" for p in sorted(paths)))


def _check_path(path, where):
  """`path` if it is a plain relative path below the root, else raises."""
  parts = path.split("/")
  if (not path or path.startswith("/") or "\\" in path or
      any(p in ("", ".", "..") for p in parts)):
    raise TreeError(f"{where}: {path!r} is not a relative path below the "
                    "directory (no '.', '..', empty or absolute parts)")
  return path


def read_record(root, tool):
  """The paths `tool` recorded as written in `root` (empty if no record)."""
  path = os.path.join(root, record_name(tool))
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.read().splitlines()
  except FileNotFoundError:
    return frozenset()
  except (OSError, UnicodeDecodeError) as e:
    raise TreeError(f"{path}: cannot read the record of generated files: "
                    f"{e}") from None
  return frozenset(_check_path(line, f"{path}:{number}")
                   for number, line in enumerate(lines, 1)
                   if line and not line.startswith("#"))


def _full(root, path):
  return os.path.join(root, *path.split("/"))


def _is_dir(path):
  return os.path.isdir(path) and not os.path.islink(path)


def _read_bytes(path):
  try:
    with open(path, "rb") as f:
      return f.read()
  except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
    return None


def foreign(root, tool, paths, recorded):
  """The paths (relative to `root`, sorted) of what is in the way of
  writing `paths`: an existing file `tool` did not record, a directory
  where a file goes, or a file where a directory goes."""
  found = set()
  for path in paths:
    parts = path.split("/")
    for i in range(1, len(parts)):  # Each directory the file goes in.
      parent = "/".join(parts[:i])
      full = _full(root, parent)
      if os.path.lexists(full) and not os.path.isdir(full):
        found.add(parent)
        break
    else:
      full = _full(root, path)
      if _is_dir(full) or (os.path.lexists(full) and path not in recorded):
        found.add(path)
  return sorted(found)


def _refusal(root, tool, blocking):
  shown = ", ".join(os.path.join(root, *p.split("/")) for p in blocking[:3])
  more = f" (and {len(blocking) - 3} more)" if len(blocking) > 3 else ""
  return (f"{shown}{more}: in the way of `python -m {tool}`, which did not "
          f"write it (not in {os.path.join(root, record_name(tool))}); move "
          "it away and rerun. Nothing was written.")


def _write_file(path, data):
  """Writes `data` beside `path`, then renames it into place."""
  directory, name = os.path.split(path)
  os.makedirs(directory, exist_ok=True)
  tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
  # O_EXCL: never truncates a file of someone else's; mode 0666 & ~umask,
  # as a plain open() would give.
  fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(data)
    os.replace(tmp, path)
  except BaseException:
    if os.path.lexists(tmp):
      os.remove(tmp)
    raise


def _remove(root, path):
  """Removes the recorded file `path` (not a directory someone put there)
  and the directories it leaves empty, up to the root. Returns whether a
  file was removed."""
  full = _full(root, path)
  if _is_dir(full) or not os.path.lexists(full):
    return False
  os.remove(full)
  parent = os.path.dirname(full)
  while os.path.normpath(parent) != os.path.normpath(root):
    try:
      os.rmdir(parent)  # Only if empty: anything else in it stays.
    except OSError:
      break
    parent = os.path.dirname(parent)
  return True


@dataclasses.dataclass(frozen=True)
class Written:
  written: int    # New or changed files.
  unchanged: int  # Already as generated, left as they were.
  removed: int    # Recorded files no longer generated.


def write(root, tool, files):
  """Writes {relative path: text} `files` into `root` as `tool`'s output.

  Replaces and removes only files of `tool`'s record; raises TreeError,
  having changed nothing, if anything else is in the way.
  """
  files = {_check_path(p, tool): t for p, t in files.items()}
  if os.path.lexists(root) and not os.path.isdir(root):
    raise TreeError(f"{root}: not a directory (where `python -m {tool}` "
                    "writes its files)")
  recorded = read_record(root, tool)
  blocking = foreign(root, tool, files, recorded)
  if blocking:
    raise TreeError(_refusal(root, tool, blocking))
  record = os.path.join(root, record_name(tool))
  if recorded | set(files) != recorded:
    _write_file(record, record_text(tool, recorded | set(files)).encode())
  written = unchanged = 0
  for path, text in sorted(files.items()):
    data = text.encode("utf-8")
    full = _full(root, path)
    if _read_bytes(full) == data:
      unchanged += 1
      continue
    _write_file(full, data)
    written += 1
  removed = sum(_remove(root, p) for p in sorted(recorded - set(files)))
  final = record_text(tool, files).encode()
  if _read_bytes(record) != final:
    _write_file(record, final)
  return Written(written, unchanged, removed)


# What `compare` finds, by path.
MISSING = "missing"
DIFFERS = "differs from what is generated"
STALE = "no longer generated (written by an earlier run)"
FOREIGN = "in the way: not written by the generator (a write refuses)"


def compare(root, tool, files):
  """[(relative path, problem)] sorted by path: what `write` would change.

  Empty when `root` holds exactly `files` and their record. Files the
  record does not list (a user's own) are not looked at unless they are in
  the way of a generated file.
  """
  recorded = read_record(root, tool)
  want = dict(files)
  want[record_name(tool)] = record_text(tool, files)
  problems = {p: FOREIGN for p in foreign(root, tool, files, recorded)}
  for path, text in want.items():
    if path in problems:
      continue
    have = _read_bytes(_full(root, path))
    if have is None:
      problems[path] = MISSING
    elif have != text.encode("utf-8"):
      problems[path] = DIFFERS
  for path in recorded - set(files):
    full = _full(root, path)
    if os.path.lexists(full) and not _is_dir(full):
      problems[path] = STALE
  return sorted(problems.items())
