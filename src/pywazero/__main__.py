"""``python -m pywazero``: the command line (see :mod:`pywazero.cli`)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
