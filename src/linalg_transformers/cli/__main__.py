"""``python -m linalg_transformers.cli``: the ``linalg-transformers`` command."""

import sys

from . import main

sys.exit(main())
