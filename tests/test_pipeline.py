"""One export path: the CLIs and the fixtures write the same modules; the
manifest refuses what it cannot have written; the exporter version follows
the code that shapes module bytes."""

import dataclasses
import filecmp
import json
import os
import shutil

import pytest

from export.publishing import manifest
from tests.conftest import VARIANT, run_cli


def _same_files(a, b):
  """Relative paths of files that differ or exist on one side only."""
  def files(root):
    return {os.path.relpath(os.path.join(d, f), root)
            for d, _, names in os.walk(root) for f in names}
  left, right = files(a), files(b)
  return sorted((left ^ right) | {
      f for f in left & right
      if not filecmp.cmp(os.path.join(a, f), os.path.join(b, f),
                         shallow=False)})


@pytest.mark.slow
def test_cli_writes_the_fixtures_tf1_modules_byte_for_byte(v1, tmp_path):
  out = tmp_path / "out"
  summary = tmp_path / "summary.json"
  tf1 = [m for m in v1.cfg.modules if m.is_tf1_hub]
  assert tf1
  result = run_cli("one", f"--config={VARIANT}", "--synthetic",
                   f"--output_dir={out}", f"--cache_dir={tmp_path / 'cache'}",
                   f"--summary_json={summary}",
                   *(f"--only={m.handle}" for m in tf1))
  assert result.returncode == 0, result.stderr[-3000:]
  for module in tf1:
    assert _same_files(v1.modules[module.handle], out / module.handle) == [], \
        module.handle
  # And so are their archives.
  fixture_out = os.path.dirname(v1.modules[tf1[0].handle])
  for _ in module.handle.split("/")[1:]:
    fixture_out = os.path.dirname(fixture_out)
  with open(os.path.join(fixture_out, manifest.FILENAME)) as f:
    fixture_entries = json.load(f)["modules"]
  with open(out / manifest.FILENAME) as f:
    cli_entries = json.load(f)["modules"]
  for module in tf1:
    assert fixture_entries[module.handle]["sha256"] == \
        cli_entries[module.handle]["sha256"]


@pytest.mark.parametrize("text", [
    '{"modules": {',                                    # Damaged.
    '[1, 2, 3]',                                        # Not a mapping.
    '{"format_version": 7, "modules": {}}',             # Another version.
    '{"format_version": 1, "modules": {"a": {"b": 1}}}',  # Other fields.
])
def test_foreign_manifest_is_refused(tmp_path, text):
  (tmp_path / manifest.FILENAME).write_text(text)
  with pytest.raises(manifest.ManifestError) as info:
    manifest.load(str(tmp_path))
  message = str(info.value)
  assert str(tmp_path / manifest.FILENAME) in message
  assert "Move it aside" in message


def test_missing_manifest_is_empty(tmp_path):
  assert manifest.load(str(tmp_path)) == {}


def test_publication_records_and_module_entries_keep_each_other(tmp_path):
  out = str(tmp_path)
  entry = manifest.Entry(handle="google/imagenet/x/classification/1",
                         config="x", format="hub", archive="x.tar.gz",
                         sha256="0" * 64, size=1, checkpoint_sha256="1" * 64,
                         exporter_version="v", inputs="i")
  manifest.record(out, [entry])
  manifest.record_publications(out, "kaggle", {"a/b/c/d/1": {"state": "x"}})
  manifest.record_publications(out, "kaggle", {"a/b/c/d/2": {"state": "y"}})
  # A later export's update keeps the records, and the records the entry.
  manifest.record(out, [dataclasses.replace(entry, size=2)])
  assert manifest.load(out)[entry.handle].size == 2
  assert manifest.load_publications(out, "kaggle") == {
      "a/b/c/d/1": {"state": "x"}, "a/b/c/d/2": {"state": "y"}}
  assert manifest.load_publications(out, "elsewhere") == {}
  (tmp_path / manifest.FILENAME).write_text(
      '{"format_version": 1, "modules": {}, "publications": {"kaggle": []}}')
  with pytest.raises(manifest.ManifestError):
    manifest.load_publications(out, "kaggle")


@pytest.mark.slow
def test_cli_stops_on_a_corrupt_manifest_and_writes_nothing(tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  (out / manifest.FILENAME).write_text('{"modules": {"truncated')
  result = run_cli("one", "--config=v1_025_128_quant", "--synthetic",
                   f"--output_dir={out}", f"--cache_dir={tmp_path / 'cache'}")
  assert result.returncode == 1
  assert f"error: {out / manifest.FILENAME}: not a manifest" in result.stderr
  assert sorted(os.listdir(out)) == [manifest.FILENAME]  # Nothing exported.
  assert (out / manifest.FILENAME).read_text() == '{"modules": {"truncated'


def test_exporter_version_follows_only_byte_shaping_code(tmp_path,
                                                         monkeypatch):
  tree = tmp_path / "export"
  shutil.copytree(os.path.dirname(os.path.dirname(manifest.__file__)), tree,
                  ignore=shutil.ignore_patterns("__pycache__"))
  monkeypatch.setattr(manifest, "_EXPORT_DIR", str(tree))

  def version():
    manifest.exporter_version.cache_clear()
    return manifest.exporter_version()

  try:
    base = version()
    # The runner, the CLIs and the cards do not shape module bytes.
    for path in ("pipeline/runner.py", "cli/exporting.py",
                 "cards/facts.py", "sources/fetch.py"):
      with open(tree / path, "a") as f:
        f.write("\n# edited\n")
      assert version() == base, path
    # The networks, the writers and the published facts do.
    for path in ("nets/mobilenet.py", "formats/hub_v1.py",
                 "core/architecture.py"):
      with open(tree / path, "a") as f:
        f.write("\n# edited\n")
      assert version() != base, path
      base = version()
  finally:
    manifest.exporter_version.cache_clear()
