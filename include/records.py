"""Kept for ``python -m include.records …`` (a documented CLI); the records live in :mod:`include.store.records`."""

import sys

from include.store.records import main

if __name__ == "__main__":
    sys.exit(main())
