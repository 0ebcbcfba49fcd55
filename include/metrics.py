"""Kept for ``python -m include.metrics …`` (a documented CLI); the metrics live in :mod:`include.store.metrics`."""

import sys

from include.store.metrics import main

if __name__ == "__main__":
    sys.exit(main())
