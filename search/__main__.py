"""python -m search: the `veille` command line."""

import sys

from .cli import main

sys.exit(main())
