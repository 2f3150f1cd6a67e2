r"""Writes the model card of every module of every config, or checks them.

  python -m export.cards [--docs_dir docs] [--configs_dir configs] [--check]

Files in docs_dir that it did not generate are left alone: only the cards
listed in `<docs_dir>/.generated-by-export.cards` are replaced or removed,
and a file of someone else's where a card goes stops it (exit 2) before
anything is written. --check exits 1 with a unified diff if any card
differs, is missing or was generated and no longer is. Implemented by
`export.cli.cards`.
"""

from export.cli import cards

if __name__ == "__main__":
  cards.run()
