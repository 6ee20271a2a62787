"""``python -m bench``: the one entry point of the measurements (bench/ketentest_bench.py)."""

import sys

from bench.ketentest_bench import main

sys.exit(main())
