"""``python -m candlewick``."""

import sys

from candlewick.cli import main

sys.exit(main())
