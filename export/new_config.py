r"""Writes a starting config for a checkpoint of one's own.

  python -m export.new_config --checkpoint PREFIX|DIR|ARCHIVE --labels FILE
      --output PATH.yaml [--name NAME] [--input_size N]

Infers the architecture, depth multiplier, class count and quantization
from the checkpoint's variables, checks the label file's line count, and
lists every format the model can be exported to; the config exports as it
is, with placeholder card text. Implemented by `export.cli.new_config`.
"""

from export.cli import new_config

if __name__ == "__main__":
  new_config.run()
