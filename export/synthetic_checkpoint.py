r"""Writes a SYNTHETIC checkpoint (random weights) with a variant's published
layout, for tests and offline demos (see `export.sources.synthetic`).

  python -m export.synthetic_checkpoint --config v1_050_160.yaml \
      --output_prefix /tmp/ckpt/model.ckpt
"""

from absl import flags

from export.cli import common as cli
from export.core import config as config_lib
from export.sources import synthetic

FLAGS = flags.FLAGS


def define_flags():
  flags.DEFINE_string("config", None, "Config file, or a name in configs/.")
  flags.DEFINE_string("output_prefix", None, "Checkpoint prefix to write.")
  flags.mark_flags_as_required(["config", "output_prefix"])


def main(argv):
  if len(argv) > 1:
    raise cli.app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cfg = config_lib.load(FLAGS.config)
  synthetic.write(cfg, FLAGS.output_prefix)
  print(f"Wrote SYNTHETIC checkpoint (random weights, not the published ones) "
        f"for {cfg.name}: {FLAGS.output_prefix}")
  return cli.EXIT_OK


if __name__ == "__main__":
  define_flags()
  cli.run(main)
