"""`export.kaggle`: publishes what an export wrote to Kaggle Models.

Reads the output directory's manifest and the configs, plans the Kaggle
models, variations and versions (destinations.kaggle_plan) and either lists
them (--dry_run), writes them as the kaggle CLI's folders (--staging_dir)
or publishes them (destinations.kaggle_publish). It exports nothing.

Exit status 0 when everything planned is on Kaggle; 2 for bad usage, no
credentials or refused ones (nothing sent), or an owner the credentials may
not publish under found before the run created anything; 1 for anything
else (such an owner found after it created something included), naming the
version.
"""

import os
import sys

from absl import flags

from export.cli import common
from export.core import config as config_lib
from export.destinations import kaggle_plan
from export.destinations import kaggle_publish
from export.destinations import kaggle_service
from export.publishing import manifest

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("output_dir", None,
                      "The export's output directory (its manifest.json says "
                      "what it holds).")
  flags.mark_flag_as_required("output_dir")
  flags.DEFINE_string("owner", None,
                      "Kaggle owner slug of every model (the family's and "
                      "those of one's own), or publisher=SLUG,... (e.g. "
                      "google=me,tensorflow=me). Default: the handles' "
                      "publishers (google, tensorflow), a config's "
                      "model.kaggle_owner.")
  flags.DEFINE_list("configs", None,
                    "Config names to publish (default: all in configs/).")
  flags.DEFINE_multi_string("only", None,
                            "Publish only this module handle or Kaggle handle "
                            "(with or without its version; repeatable).")
  flags.DEFINE_bool("public", False,
                    "Create missing models public (default: private).")
  flags.DEFINE_bool("dry_run", False,
                    "Print one line per version (handle, number, files, "
                    "bytes, whether the manifest records it on Kaggle); "
                    "send nothing.")
  flags.DEFINE_string("staging_dir", None,
                      "Write the plan as the kaggle CLI's folders here "
                      "(files hard-linked) instead of publishing.")
  flags.DEFINE_integer("retries", kaggle_service.RETRIES,
                       "Retries of a read or upload after HTTP 5xx or a "
                       "dropped connection.", lower_bound=0)
  flags.DEFINE_float("retry_wait", kaggle_service.RETRY_WAIT_SECONDS,
                     "Seconds before the first retry (doubled each time).",
                     lower_bound=0)
  flags.DEFINE_float("processing_wait", kaggle_publish.PROCESSING_WAIT_SECONDS,
                     "Seconds to wait for Kaggle to show a version created "
                     "without a reply (or by an earlier run) before deeming "
                     "it not made; Kaggle shows a version once it has "
                     "processed its files.", lower_bound=0)


def _dry_run(the_plan, output_dir):
  records = manifest.load_publications(output_dir,
                                       kaggle_publish.DESTINATION)
  for version in the_plan.versions:
    count, size = kaggle_plan.sizes(version)
    record = records.get(version.handle)
    if record and record["state"] == kaggle_publish.PUBLISHED:
      state = "already there"
    elif count == 0:
      state = "not exported"
    else:
      state = "to publish"
    print(f"{version.handle}  version {version.kaggle.version}  "
          f"<- {version.module}: {count} files, {size} bytes, {state}")
  print(f"{len(the_plan.versions)} versions of {len(the_plan.variations)} "
        f"variations of {len(the_plan.models)} models")


def main(argv):
  if len(argv) > 1:
    raise common.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  os.chdir(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()))
  if FLAGS.dry_run and FLAGS.staging_dir:
    raise common.app.UsageError("--dry_run and --staging_dir exclude each "
                                "other")
  output_dir = FLAGS.output_dir
  if not os.path.isdir(output_dir):
    raise common.app.UsageError(f"--output_dir: no such directory: "
                                f"{output_dir}")
  family = config_lib.load_all()
  configs = ([config_lib.load(name) for name in FLAGS.configs]
             if FLAGS.configs else family)
  try:
    the_plan = kaggle_plan.plan(configs, output_dir,
                                kaggle_plan.parse_owners(FLAGS.owner),
                                FLAGS.only, FLAGS.public, family=family)
  except kaggle_plan.PlanError as e:
    raise common.app.UsageError(str(e)) from None
  if FLAGS.dry_run:
    _dry_run(the_plan, output_dir)
    return common.EXIT_OK
  entries = manifest.load(output_dir)
  try:
    if FLAGS.staging_dir:
      kaggle_plan.write_staging(
          the_plan,
          lambda v: kaggle_plan.module_files(v, entries, output_dir),
          FLAGS.staging_dir)
      print(f"wrote {len(the_plan.versions)} versions to "
            f"{FLAGS.staging_dir} (see its {kaggle_plan.STAGING_PLAN_FILE})")
      return common.EXIT_OK
    publisher = kaggle_publish.Publisher(
        the_plan, output_dir, report=lambda line: print(line, flush=True),
        options=kaggle_publish.Options(FLAGS.retries, FLAGS.retry_wait,
                                       FLAGS.processing_wait))
    counts = publisher.run()
  except kaggle_service.CredentialsError as e:
    print(f"error: {e}", file=sys.stderr)
    return common.EXIT_USAGE
  except kaggle_publish.OwnerRefused as e:
    print(f"error: {e}", file=sys.stderr)
    return common.EXIT_FAILURE if e.changed else common.EXIT_USAGE
  except (kaggle_plan.PlanError, kaggle_publish.PublishError,
          kaggle_service.ServiceError) as e:
    print(f"error: {e}", file=sys.stderr)
    return common.EXIT_FAILURE
  print(f"{counts['created']} versions created, {counts['already there']} "
        "already there")
  return common.EXIT_OK


def run():
  define_flags()
  common.run(main)
