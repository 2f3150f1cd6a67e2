r"""Checks modules against their manifest, signature, and a rebuild.

  python -m export.verify PATH... [--public_key PEM | --certificate_chain
      PEM,... | --identity ID --issuer URL] [--rebuild [--synthetic |
      --checkpoint P | --checkpoint_dir C] [--module HANDLE [--config F]]]
  python -m export.verify --output_dir D [...]

PATH: a module directory, a served archive, or a downloaded Kaggle version
(whose module `--rebuild` takes from its path, else from --module).
Exit 0 when all holds; 1 with one line per differing file or failed check;
2 for a missing or unreadable input, or a key, certificate or module that
cannot be used. Implemented by `export.cli.verifying`.
"""

from export.cli import verifying

if __name__ == "__main__":
  verifying.run()
