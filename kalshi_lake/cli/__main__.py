"""``python -m kalshi_lake.cli``: the same as the ``kalshi-lake`` command."""

from kalshi_lake.cli import main

main()
