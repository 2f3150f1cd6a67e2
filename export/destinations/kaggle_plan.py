"""What publishing an output directory to Kaggle Models means: the plan.

`plan()` turns configs (and the modules an export recorded) into the Kaggle
models, variations and versions they become (`kaggle_layout`), with their
texts (`kaggle_texts`) and files, in publishing order: every variation's
versions ascending, as Kaggle numbers them. `module_files()` reads a
version's files and checks them against the manifest, so only what the
export made is published. `write_staging()` writes the plan as the kaggle
CLI's folders. Nothing here talks to Kaggle.
"""

import dataclasses
import hashlib
import json
import os
import shutil

from export.core import kaggle_names
from export.core import published
from export.destinations import kaggle_layout
from export.destinations import kaggle_texts
from export.publishing import module_check
from export.publishing import package

MODEL_METADATA_FILE = "model-metadata.json"            # The kaggle CLI's.
INSTANCE_METADATA_FILE = "model-instance-metadata.json"
STAGING_PLAN_FILE = "plan.json"
INSTANCE_TYPE = "BaseModel"


class PlanError(ValueError):
  """What was asked cannot be published (unknown handle, module not exported
  or changed since)."""


@dataclasses.dataclass(frozen=True)
class Model:
  owner: str
  slug: str
  title: str
  subtitle: str
  description: str
  publish_time: str        # YYYY-MM-DD, or None.
  provenance_sources: str
  is_private: bool

  @property
  def handle(self):
    return f"{self.owner}/{self.slug}"


@dataclasses.dataclass(frozen=True)
class Variation:
  owner: str
  model: str
  framework: str
  slug: str
  overview: str
  usage: str
  fine_tunable: bool
  license_name: str = kaggle_texts.LICENSE_NAME
  training_data: tuple = (kaggle_texts.TRAINING_DATA,)
  instance_type: str = INSTANCE_TYPE

  @property
  def handle(self):
    return f"{self.owner}/{self.model}/{self.framework}/{self.slug}"


@dataclasses.dataclass(frozen=True)
class Version:
  kaggle: kaggle_layout.KaggleVersion
  module: str              # The module's handle (the manifest's key).
  config: str
  module_dir: str          # Where its files are, if exported.
  notes: str
  lite_file: str = None    # A Lite version's one file, as Kaggle names it.

  @property
  def handle(self):
    return self.kaggle.handle


@dataclasses.dataclass(frozen=True)
class Plan:
  models: tuple
  variations: tuple
  versions: tuple          # Publishing order.


def parse_owners(text):
  """`--owner`: one slug for every model (the family's and those of one's
  own), or `publisher=slug,...`. Returns {publisher: owner}
  (kaggle_layout.EVERY_PUBLISHER for one slug; publishers not named keep
  their owner)."""
  if not text:
    return {}
  if "=" not in text:
    return {kaggle_layout.EVERY_PUBLISHER: text.strip()}
  owners = {}
  for part in text.split(","):
    publisher, sep, owner = part.partition("=")
    if not sep or not publisher.strip() or not owner.strip():
      raise PlanError(f"--owner: {part!r} is not allowed; expected SLUG or "
                      "publisher=SLUG,... (e.g. google=me,tensorflow=me)")
    owners[publisher.strip()] = owner.strip()
  return owners


def _selected(configs, owners, only):
  """[(cfg, module, KaggleVersion)] of `configs` that tfhub.dev served,
  narrowed to `only` (module handles or Kaggle handles, with or without
  their version)."""
  found, seen = [], {}
  for cfg in configs:
    for module in cfg.modules:
      kv = kaggle_layout.locate(cfg, module, owners)
      if kv is None:
        continue
      if kv.handle in seen:
        raise PlanError(f"{module.handle} ({cfg.path}) and {seen[kv.handle]} "
                        f"would both be {kv.handle} on Kaggle")
      seen[kv.handle] = module.handle
      found.append((cfg, module, kv))
  if not only:
    return found
  wanted = set(only)
  chosen = [(c, m, kv) for c, m, kv in found
            if {m.handle, kv.handle, kv.variation_handle} & wanted]
  known = {name for _, m, kv in found
           for name in (m.handle, kv.handle, kv.variation_handle)}
  unknown = sorted(wanted - known)
  if unknown:
    example = (f" (e.g. {found[0][1].handle} or {found[0][2].handle})"
               if found else "")
    raise PlanError(f"--only: {', '.join(unknown)} is not allowed; expected "
                    "a module handle or Kaggle handle of the configs"
                    + example)
  return chosen


_lite_file = kaggle_names.lite_file  # In core: the cards name it too.


def plan(configs, output_dir, owners=None, only=None, public=False,
         family=None):
  """The Plan of publishing `configs`' modules (see module docstring).

  Args:
    family: all configs of the models (default: `configs`): a model's
      description lists all their variations, and cards link to any of their
      modules, whichever are published now.
  """
  selected = _selected(configs, owners, only)
  family = list(family or [])
  known = {os.path.realpath(c.path) for c in family}
  everything = _selected(
      family + [c for c in configs if os.path.realpath(c.path) not in known],
      owners, None)
  links = {m.handle: kv for _, m, kv in everything}
  # The cards of a model of one's own name its Kaggle handles under its
  # config's owner; `--owner` moves them.
  links.update({kaggle_names.custom_handle(c, m): kv
                for c, m, kv in everything if c.custom})
  # So do the family's ONNX cards, under its publishers.
  links.update({kaggle_names.onnx_handle(c, m): kv
                for c, m, kv in everything if m.is_onnx})
  # A variation's texts come from its first version's module, a model's
  # description from all its modules (even those not selected).
  first, members, sources = {}, {}, {}
  for cfg, module, kv in sorted(everything, key=lambda x: x[2].version):
    first.setdefault(kv.variation_handle, (cfg, module, kv))
    members.setdefault((kv.owner, kv.model), []).append((cfg, module))
    # One Kaggle model, one card: the family's V1 or V2 (under one owner
    # `--owner SLUG` folds google's and tensorflow's together), or one
    # model of one's own.
    source = ((cfg.model.kaggle_owner, cfg.model.kaggle_model) if cfg.custom
              else (cfg.architecture,))
    other = sources.setdefault((kv.owner, kv.model), (source, cfg))
    if other[0] != source:
      raise PlanError(f"{cfg.path} and {other[1].path} would both publish "
                      f"to Kaggle model {kv.owner}/{kv.model}, whose card "
                      "describes one model; give them different owners "
                      "(--owner publisher=SLUG,...) or model.kaggle_model")
  models, variations, versions = {}, {}, []
  for cfg, module, kv in selected:
    if (kv.owner, kv.model) not in models:
      family = published.FAMILIES[cfg.architecture]
      models[(kv.owner, kv.model)] = Model(
          owner=kv.owner, slug=kv.model,
          title=cfg.model.title if cfg.custom else family.title,
          subtitle=kaggle_texts.subtitle(cfg),
          description=kaggle_texts.model_card(
              cfg.architecture, members[(kv.owner, kv.model)], kv.owner),
          publish_time=(None if cfg.custom else
                        kaggle_texts.PUBLISH_DATES[cfg.architecture]),
          provenance_sources=(
              (cfg.checkpoint.url or "") if cfg.custom else
              f"TF-Slim {family.title} checkpoints: {family.archive_root}"),
          is_private=not public)
    if kv.variation_handle not in variations:
      f_cfg, f_module, _ = first[kv.variation_handle]
      texts = kaggle_texts.variation_texts(f_cfg, f_module, links)
      variations[kv.variation_handle] = Variation(
          owner=kv.owner, model=kv.model, framework=kv.framework,
          slug=kv.variation, overview=texts["overview"],
          usage=texts["usage"], fine_tunable=texts["fine_tunable"],
          **({"license_name": f_cfg.model.license,
              "training_data": (f_cfg.model.dataset,)} if f_cfg.custom
             else {}))
    versions.append(Version(
        kaggle=kv, module=module.handle, config=cfg.name,
        module_dir=os.path.join(output_dir, module.handle),
        notes=kaggle_texts.version_notes(cfg, module),
        lite_file=_lite_file(module) if module.is_lite else None))
  versions.sort(key=lambda v: (v.kaggle.variation_handle, v.kaggle.version))
  return Plan(models=tuple(models[k] for k in sorted(models)),
              variations=tuple(variations[k] for k in sorted(variations)),
              versions=tuple(versions))


# --- A version's files --------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class VersionFiles:
  files: tuple             # ((name on Kaggle, local path, sha256, size), ...)

  @property
  def size(self):
    return sum(f[3] for f in self.files)

  @property
  def sha256(self):
    """Of the whole version: sha256 of its `sha256  name` lines, sorted."""
    lines = "".join(f"{sha}  {name}\n" for name, _, sha, _ in self.files)
    return hashlib.sha256(lines.encode()).hexdigest()

  def listing(self):
    return {name: sha for name, _, sha, _ in self.files}


def sizes(version):
  """(number of files, bytes) of an exported version, from the file system
  only (no hashing): what --dry_run shows. (0, 0) if not exported."""
  files = (package.walk(version.module_dir)
           if os.path.isdir(version.module_dir) else {})
  return len(files), sum(os.path.getsize(p) for p in files.values())


def module_files(version, entries, output_dir):
  """The VersionFiles of `version`, checked against the manifest (`entries`,
  {handle: manifest.Entry}): the module must be recorded and be what its
  entry records (`module_check`: the served archive's sha256, then each
  file against the archive's bytes).

  Raises:
    PlanError: naming the module and what differs.
  """
  entry = entries.get(version.module)
  where = f"{version.module} (for {version.handle})"
  if entry is None:
    raise PlanError(f"{where}: not in {output_dir}/manifest.json; export it "
                    f"first (python -m export.one --config {version.config} "
                    f"--output_dir {output_dir})")
  checked = module_check.check(output_dir, entry)
  if checked.problems:
    raise PlanError(f"{where}: {'; '.join(checked.problems)}; export the "
                    "module again")
  hashes = checked.hashes
  on_disk = package.walk(version.module_dir)
  files = sorted(
      (version.lite_file if version.lite_file and
       name == published.LITE_MODEL_FILE else name, path, hashes[name],
       os.path.getsize(path)) for name, path in on_disk.items())
  return VersionFiles(files=tuple(files))


# --- The kaggle CLI's files ---------------------------------------------------

def model_metadata(model):
  """A model's `model-metadata.json` (the kaggle CLI's fields)."""
  return {"ownerSlug": model.owner, "slug": model.slug, "title": model.title,
          "subtitle": model.subtitle, "isPrivate": model.is_private,
          "description": model.description,
          "publishTime": model.publish_time,
          "provenanceSources": model.provenance_sources}


def instance_metadata(variation):
  """A variation's `model-instance-metadata.json` (the kaggle CLI's)."""
  return {"ownerSlug": variation.owner, "modelSlug": variation.model,
          "instanceSlug": variation.slug, "framework": variation.framework,
          "overview": variation.overview, "usage": variation.usage,
          "licenseName": variation.license_name,
          "fineTunable": variation.fine_tunable,
          "trainingData": list(variation.training_data),
          "modelInstanceType": variation.instance_type,
          "baseModelInstance": "", "externalBaseModelUrl": ""}


def _write_json(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(data, f, indent=2, sort_keys=True)
    f.write("\n")


def write_staging(the_plan, files_of, staging_dir):
  """Writes the plan as the kaggle CLI's folders into `staging_dir` (built
  aside, then renamed into place):

    <owner>/<model>/model-metadata.json      kaggle models create -p DIR
    <owner>/<model>/<framework>/<variation>/<n>/
        the version's files, hard-linked; version 1 also holds
        model-instance-metadata.json         kaggle models instances create
                                             -p DIR --dir-mode zip
    plan.json                                the versions in order, with
                                             their notes and commands

  `files_of(version)` gives a version's VersionFiles.
  """
  if os.path.exists(staging_dir):
    raise PlanError(f"--staging_dir: {staging_dir} exists; choose a new "
                    "directory")
  tmp = f"{staging_dir.rstrip(os.sep)}.tmp-{os.getpid()}"
  shutil.rmtree(tmp, ignore_errors=True)
  variations = {v.handle: v for v in the_plan.variations}
  steps = []
  try:
    for model in the_plan.models:
      folder = os.path.join(tmp, model.owner, model.slug)
      _write_json(os.path.join(folder, MODEL_METADATA_FILE),
                  model_metadata(model))
      steps.append({"create_model": model.handle,
                    "command": f"kaggle models create -p {model.handle}"})
    for version in the_plan.versions:
      kv = version.kaggle
      folder = os.path.join(tmp, kv.owner, kv.model, kv.framework,
                            kv.variation, str(kv.version))
      for name, path, _, _ in files_of(version).files:
        package.link_or_copy(path, os.path.join(folder, name))
      relative = os.path.relpath(folder, tmp)
      if kv.version == 1:
        _write_json(os.path.join(folder, INSTANCE_METADATA_FILE),
                    instance_metadata(variations[kv.variation_handle]))
        command = (f"kaggle models instances create -p {relative} "
                   "--dir-mode zip")
      else:
        command = (f"kaggle models instances versions create "
                   f"{kv.variation_handle} -p {relative} --dir-mode zip "
                   "--version-notes \"$(cat NOTES)\"")
      steps.append({"version": kv.handle, "module": version.module,
                    "folder": relative, "notes": version.notes,
                    "command": command})
    _write_json(os.path.join(tmp, STAGING_PLAN_FILE), {"steps": steps})
    os.replace(tmp, staging_dir)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
