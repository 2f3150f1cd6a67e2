r"""Writes configs/ from the published family table (`export.core.family`).

  python -m export.family            # (re)write the generated configs/*.yaml
  python -m export.family --check    # exit 1 if configs/ differs

Configs of one's own in configs/ are left alone: only the configs listed in
`configs/.generated-by-export.family` are replaced or removed, and a file
of someone else's where a generated config goes stops it (exit 2) before
anything is written. Implemented by `export.cli.family`.
"""

from export.cli import family

if __name__ == "__main__":
  family.run()
