"""``python -m lrjax``: the same as the ``lrjax`` console script (see `lrjax.cli`)."""

import sys

from lrjax.cli import main

sys.exit(main())
