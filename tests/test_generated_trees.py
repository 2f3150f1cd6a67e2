"""`python -m export.cards` and `python -m export.family` write into
directories a user shares with files of their own: they replace and remove
only what they generated (their record), refuse a file of someone else's
where a generated one goes, and `--check` guards the committed trees.

Run as a user would: `python -m export.<tool>` in a subprocess. No
TensorFlow.
"""

import os
import shutil
import subprocess
import sys

import pytest

from export import cards
from export.core import config
from export.core import family
from export.publishing import generated
from tests.conftest import REPO

DOCS = os.path.join(REPO, "docs")
CARDS_RECORD = ".generated-by-export.cards"
FAMILY_RECORD = ".generated-by-export.family"
SMALL = ("v1_025_128", "v2_035_96")
# A project of one's own, as tests/test_custom_models.py writes them (that
# module is not among the test helpers Bazel gives each test).
CUSTOM = """\
family: custom
architecture: mobilenet_v1
depth_multiplier: 0.35
input_size: 128
num_classes: 3
labels: labels.txt
model:
  publisher: dial-works
  name: gauges_model
  title: Gauges model
  dataset: Gauge photos
  description: A test model of one's own. It reads gauges.
  authors: The test suite
checkpoint:
  path: ckpt/model.ckpt
calibration: images
modules:
  - {kind: classification, format: hub}
  - {kind: feature_vector, format: hub}
  - {kind: classification, format: saved_model_2}
  - {kind: classification, format: lite}
  - {kind: classification, format: lite, quantization: post_training}
  - {kind: classification, format: tfjs}
"""


def _run(tool, *args, cwd=REPO):
  env = dict(os.environ, PYTHONPATH=REPO)
  return subprocess.run([sys.executable, "-m", f"export.{tool}", *args],
                        cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=120)


def _snapshot(root):
  """{relative path: bytes} of every file under `root` (hidden ones too),
  and {relative path: None} of every directory."""
  tree = {}
  for directory, dirs, files in os.walk(root):
    for name in dirs:
      tree[os.path.relpath(os.path.join(directory, name), root)] = None
    for name in files:
      path = os.path.join(directory, name)
      with open(path, "rb") as f:
        tree[os.path.relpath(path, root)] = f.read()
  return tree


def _configs(directory, names):
  os.makedirs(directory, exist_ok=True)
  for name in names:
    shutil.copy(os.path.join(config.CONFIGS_DIR, f"{name}.yaml"), directory)
  return str(directory)


def _cards_of(configs_dir):
  return cards.render_all(config.load_all(configs_dir))


def _record(root, tool):
  with open(os.path.join(root, generated.record_name(tool))) as f:
    return [line for line in f.read().splitlines()
            if not line.startswith("#")]


def _users_files(root):
  """A user's note, a folder of theirs, and a note inside a folder the
  cards go in; returns their snapshot."""
  os.makedirs(os.path.join(root, "drafts", "old"), exist_ok=True)
  os.makedirs(os.path.join(root, "google", "models"), exist_ok=True)
  for path, text in [("notes.md", "# My notes\n"),
                     ("drafts/old/card.md", "draft\n"),
                     ("google/models/README.txt", "mine\n")]:
    with open(os.path.join(root, path), "w") as f:
      f.write(text)
  return _snapshot(root)


# --- Beside a user's files ----------------------------------------------------


def test_cards_leave_a_users_files_and_folders(tmp_path):
  configs = _configs(tmp_path / "configs", SMALL)
  docs = tmp_path / "docs"
  mine = _users_files(docs)
  result = _run("cards", "--configs_dir", configs, "--docs_dir", str(docs))
  assert result.returncode == 0, result.stderr
  tree = _snapshot(docs)
  assert {p: tree[p] for p in mine} == mine
  want = _cards_of(configs)
  assert {p: tree[p].decode() for p in want} == want
  added = set(tree) - set(mine) - set(want) - {CARDS_RECORD}
  assert added and all(tree[p] is None for p in added)  # The cards' folders.
  assert _record(docs, "export.cards") == sorted(want)
  # The check looks only at what it generated; a rerun changes nothing.
  assert _run("cards", "--check", "--configs_dir", configs, "--docs_dir",
              str(docs)).returncode == 0
  result = _run("cards", "--configs_dir", configs, "--docs_dir", str(docs))
  assert result.returncode == 0, result.stderr
  assert f"0 written, {len(want)} unchanged; 0 removed" in result.stdout
  assert _snapshot(docs) == tree


def test_family_leaves_a_users_config_and_folder(tmp_path):
  configs = tmp_path / "configs"
  shutil.copytree(config.CONFIGS_DIR, configs)
  (configs / "flowers.yaml").write_text("family: custom\n# mine\n")
  (configs / "old").mkdir()
  (configs / "old" / "v1.yaml").write_text("# mine too\n")
  (configs / "v1_050_160.yaml").write_text("# edited by hand\n")
  before = _snapshot(configs)
  result = _run("family", "--configs_dir", str(configs))
  assert result.returncode == 0, result.stderr
  assert "55 configs, 1 written, 54 unchanged; 0 removed" in result.stdout
  after = _snapshot(configs)
  for path in ("flowers.yaml", "old", os.path.join("old", "v1.yaml")):
    assert after[path] == before[path]
  assert {p: after[p].decode() for p in family.configs()} == family.configs()
  assert _run("family", "--check", "--configs_dir",
              str(configs)).returncode == 0


def test_family_into_an_empty_directory_writes_configs_and_record(tmp_path):
  configs = tmp_path / "configs"
  result = _run("family", "--configs_dir", str(configs))
  assert result.returncode == 0, result.stderr
  tree = _snapshot(configs)
  assert set(tree) == set(family.configs()) | {FAMILY_RECORD}
  with open(os.path.join(config.CONFIGS_DIR, FAMILY_RECORD), "rb") as f:
    assert tree[FAMILY_RECORD] == f.read()  # The committed record.


def test_docs_dir_dot_in_a_custom_project_deletes_nothing(tmp_path):
  project = tmp_path / "gauges"
  project.mkdir()
  (project / "gauges.yaml").write_text(CUSTOM)
  (project / "labels.txt").write_text("low\nok\nhigh\n")
  (project / "ckpt").mkdir()
  for suffix in (".index", ".data-00000-of-00001"):
    (project / "ckpt" / f"model.ckpt{suffix}").write_bytes(b"\0fake" * 9)
  (project / "images").mkdir()
  (project / "images" / "dial.png").write_bytes(b"\x89PNG fake")
  (project / "README.md").write_text("# Gauges\n")
  before = _snapshot(project)
  for _ in range(2):
    result = _run("cards", "--configs_dir", ".", "--docs_dir", ".",
                  cwd=project)
    assert result.returncode == 0, result.stderr
    after = _snapshot(project)
    assert {p: after.get(p) for p in before} == before
  want = _cards_of(str(project))
  assert {p: after[p].decode() for p in want} == want
  assert "dial-works/models/gauges_model/classification/1.md" in want
  assert _run("cards", "--check", "--configs_dir", ".", "--docs_dir", ".",
              cwd=project).returncode == 0


# --- A user's file where a generated one goes ---------------------------------


@pytest.mark.parametrize("tool, target, blocking", [
    ("cards", "docs", "google/google.md"),
    ("cards", "docs", "google"),  # A file where a folder of cards goes.
    ("family", "configs", "v1_025_128.yaml"),
])
def test_a_users_file_at_a_generated_path_is_refused(tmp_path, tool, target,
                                                     blocking):
  root = tmp_path / target
  root.mkdir()
  (root / "notes.md").write_text("mine\n")
  (root / blocking).parent.mkdir(parents=True, exist_ok=True)
  (root / blocking).write_text("my own\n")
  before = _snapshot(root)
  args = ("--configs_dir", _configs(tmp_path / "c", SMALL)) if tool == \
      "cards" else ()
  result = _run(tool, *args, f"--{target}_dir", str(root))
  assert result.returncode == 2, result.stdout + result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1
  assert lines[0].startswith(f"error: {root / blocking}: in the way of "
                             f"`python -m export.{tool}`, which did not "
                             "write it")
  assert "Nothing was written" in lines[0]
  assert _snapshot(root) == before


def test_a_refused_write_removes_no_stale_card(tmp_path):
  # Cards of v1_025_128 written; then that config goes and v2_035_96 comes,
  # one of whose cards is already a file of the user's.
  docs = tmp_path / "docs"
  configs = _configs(tmp_path / "configs", SMALL[:1])
  assert _run("cards", "--configs_dir", configs, "--docs_dir",
              str(docs)).returncode == 0
  os.remove(os.path.join(configs, "v1_025_128.yaml"))
  _configs(configs, SMALL[1:])
  path = "google/models/imagenet/mobilenet_v2_035_96/classification/4.md"
  assert path in _cards_of(configs)
  (docs / path).parent.mkdir(parents=True)
  (docs / path).write_text("my own card\n")
  before = _snapshot(docs)
  result = _run("cards", "--configs_dir", configs, "--docs_dir", str(docs))
  assert result.returncode == 2
  assert f"{docs / path}: in the way" in result.stderr
  assert _snapshot(docs) == before
  # --check names it too, as a write would refuse it.
  result = _run("cards", "--check", "--configs_dir", configs, "--docs_dir",
                str(docs))
  assert result.returncode == 1
  assert f"in the way: {docs / path} was not written by" in result.stdout


# --- Stale generated files ----------------------------------------------------


def test_cards_of_a_removed_config_are_removed_and_checked(tmp_path):
  docs = tmp_path / "docs"
  mine = _users_files(docs)
  # A note of the user's in a folder of the cards that go.
  note = os.path.join("google", "models", "imagenet", "mobilenet_v2_035_96",
                      "NOTES.txt")
  configs = _configs(tmp_path / "configs", SMALL)
  assert _run("cards", "--configs_dir", configs, "--docs_dir",
              str(docs)).returncode == 0
  (docs / note).write_text("mine\n")
  both = _cards_of(configs)
  os.remove(os.path.join(configs, "v2_035_96.yaml"))
  kept = _cards_of(configs)
  gone = sorted(set(both) - set(kept))
  assert len(gone) > 10 and "google/google.md" in kept
  # The check reports the stale cards, not the user's files.
  result = _run("cards", "--check", "--configs_dir", configs, "--docs_dir",
                str(docs))
  assert result.returncode == 1
  for path in gone:
    assert f"no longer generated by any config: {docs / path}\n" \
        in result.stdout
  assert "NOTES.txt" not in result.stdout
  assert "notes.md" not in result.stdout and "drafts" not in result.stdout
  result = _run("cards", "--configs_dir", configs, "--docs_dir", str(docs))
  assert result.returncode == 0, result.stderr
  assert f"; {len(gone)} removed (no longer generated)" in result.stdout
  tree = _snapshot(docs)
  assert not set(gone) & set(tree)
  assert {p: tree[p].decode() for p in kept} == kept
  assert {p: tree[p] for p in mine} == mine and tree[note] == b"mine\n"
  # Folders left empty are gone; the one holding the note stays.
  assert not os.path.exists(
      docs / "google/models/imagenet/mobilenet_v2_035_96/feature_vector")
  assert _record(docs, "export.cards") == sorted(kept)
  assert _run("cards", "--check", "--configs_dir", configs, "--docs_dir",
              str(docs)).returncode == 0


def test_family_removes_a_config_it_no_longer_generates(tmp_path):
  # As if an earlier family table had a variant the current one has not.
  configs = tmp_path / "configs"
  shutil.copytree(config.CONFIGS_DIR, configs)
  (configs / "v1_010_96.yaml").write_text("# generated earlier\n")
  (configs / "flowers.yaml").write_text("# mine\n")
  with open(configs / FAMILY_RECORD, "a") as f:
    f.write("v1_010_96.yaml\n")
  result = _run("family", "--check", "--configs_dir", str(configs))
  assert result.returncode == 1
  assert ("v1_010_96.yaml (no longer generated (written by an earlier run))"
          in result.stderr)
  assert "flowers.yaml" not in result.stderr
  result = _run("family", "--configs_dir", str(configs))
  assert result.returncode == 0, result.stderr
  assert "; 1 removed" in result.stdout
  assert not (configs / "v1_010_96.yaml").exists()
  assert (configs / "flowers.yaml").read_text() == "# mine\n"
  assert _record(configs, "export.family") == sorted(family.configs())


def test_a_record_naming_a_path_outside_is_refused(tmp_path):
  docs = tmp_path / "docs"
  docs.mkdir()
  (tmp_path / "precious.txt").write_text("keep\n")
  (docs / CARDS_RECORD).write_text("# record\n../precious.txt\n")
  result = _run("cards", "--configs_dir", _configs(tmp_path / "c", SMALL),
                "--docs_dir", str(docs))
  assert result.returncode == 2
  assert (f"{docs / CARDS_RECORD}:2: '../precious.txt' is not a relative "
          "path below the directory") in result.stderr
  assert (tmp_path / "precious.txt").read_text() == "keep\n"
  assert os.listdir(docs) == [CARDS_RECORD]


def test_an_interrupted_write_is_finished_by_the_rerun(tmp_path, monkeypatch):
  # The record claims the new files before any is written: the rerun finds
  # none "in the way", and removes the stale one the first run did not.
  root = str(tmp_path / "tree")
  generated.write(root, "t", {"a.md": "a\n", "old/x.md": "x\n"})
  real = generated._write_file
  calls = []

  def interrupted(*_):
    raise KeyboardInterrupt

  def failing(path, data):
    calls.append(path)
    if len(calls) == 3:  # The record, b.md, then c/d.md: Ctrl-C as it lands.
      monkeypatch.setattr(os, "replace", interrupted)
    real(path, data)

  monkeypatch.setattr(generated, "_write_file", failing)
  new = {"a.md": "a\n", "b.md": "b\n", "c/d.md": "d\n"}
  with pytest.raises(KeyboardInterrupt):
    generated.write(root, "t", new)
  monkeypatch.undo()
  assert sorted(os.listdir(root)) == [".generated-by-t", "a.md", "b.md", "c",
                                      "old"]
  assert not os.listdir(os.path.join(root, "c"))  # No temporary file left.
  assert generated.compare(root, "t", new) == [
      (".generated-by-t", generated.DIFFERS), ("c/d.md", generated.MISSING),
      ("old/x.md", generated.STALE)]
  done = generated.write(root, "t", new)
  assert (done.written, done.unchanged, done.removed) == (1, 2, 1)
  assert _snapshot(root) == {".generated-by-t": generated.record_text(
      "t", new).encode(), "a.md": b"a\n", "b.md": b"b\n", "c": None,
                             "c/d.md": b"d\n"}
  assert generated.compare(root, "t", new) == []


# --- --check ------------------------------------------------------------------


def test_committed_docs_pass_the_check():
  result = _run("cards", "--check")
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr
  assert "823 cards up to date" in result.stdout


def test_committed_configs_pass_the_check():
  result = _run("family", "--check")
  assert result.returncode == 0, result.stderr
  assert "55 configs up to date" in result.stdout


@pytest.fixture
def docs_copy(tmp_path):
  docs = tmp_path / "docs"
  shutil.copytree(DOCS, docs)
  return docs


def test_check_fails_on_hand_edited_card(docs_copy):
  card = (docs_copy / "google/models/imagenet/mobilenet_v1_050_160/"
          "feature_vector/3.md")
  card.write_text(card.read_text().replace("= 512.", "= 513."))
  result = _run("cards", "--check", "--docs_dir", str(docs_copy))
  assert result.returncode == 1
  assert "mobilenet_v1_050_160/feature_vector/3.md" in result.stdout
  assert "-in the batch is a feature vector of size `num_features` = 513." \
      in result.stdout
  assert "+in the batch is a feature vector of size `num_features` = 512." \
      in result.stdout
  assert "python -m export.cards" in result.stderr


def test_check_fails_on_a_missing_card_and_record(docs_copy):
  (docs_copy / "google/models/imagenet/mobilenet_v2_050_96/classification/2.md"
  ).unlink()
  (docs_copy / "notes.md").write_text("hand-written\n")
  result = _run("cards", "--check", "--docs_dir", str(docs_copy))
  assert result.returncode == 1
  assert result.stdout == (
      f"missing: {docs_copy}/google/models/imagenet/mobilenet_v2_050_96/"
      "classification/2.md\n")
  (docs_copy / CARDS_RECORD).unlink()
  result = _run("cards", "--check", "--docs_dir", str(docs_copy))
  assert result.returncode == 1
  # Every card is now a file a write would refuse to replace.
  assert result.stdout.count("in the way: ") == 822
  assert f"missing: {docs_copy / CARDS_RECORD}\n" in result.stdout


def test_family_check_reports_a_hand_edited_config(tmp_path):
  configs = tmp_path / "configs"
  shutil.copytree(config.CONFIGS_DIR, configs)
  (configs / "v1_050_160.yaml").write_text("# edited\n")
  (configs / "v2_100_96.yaml").unlink()
  (configs / "v9.yaml").write_text("# a config of one's own\n")
  result = _run("family", "--check", "--configs_dir", str(configs))
  assert result.returncode == 1
  assert result.stderr == (
      f"{configs}: not what `python -m export.family` generates (run it and "
      "commit the result): v1_050_160.yaml (differs from what is generated), "
      "v2_100_96.yaml (missing)\n")
