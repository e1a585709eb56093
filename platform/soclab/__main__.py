"""`python -m soclab ...`: the `soclab` CLI without its console script (a source checkout on
PYTHONPATH, or an environment whose scripts directory is not on PATH)."""

from soclab.cli import main

main()
