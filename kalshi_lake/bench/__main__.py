"""Run the benchmarks: ``python -m kalshi_lake.bench [--only NAME ...] [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from kalshi_lake.bench import MODULES


def main(argv: list[str] | None = None) -> int:
    """Run each figure module and print one JSON line per figure."""
    parser = argparse.ArgumentParser(prog="python -m kalshi_lake.bench", description=__doc__)
    parser.add_argument("--only", action="append", choices=MODULES, help="run only these modules")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.only or MODULES:
        try:
            mod = importlib.import_module(f"kalshi_lake.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"kalshi_lake.bench.{name}":
                continue
            raise
        t0 = time.perf_counter()
        try:
            for fig in mod.run(quick=args.quick):
                print(json.dumps(fig), flush=True)
        except Exception as exc:
            failed += 1
            print(json.dumps({"name": name, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        print(f"# {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
