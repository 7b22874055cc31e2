"""`python -m bench [name ...]`: every benchmark (or the named ones) with its default sizes,
one after the other so they do not compete for the two cores, then docs/benchmarks.md."""

from __future__ import annotations

import argparse
import importlib

from bench.measure import Stopwatch, console
from bench.report import ORDER, write_document
from bench.servers import quiet_kafka_client_logs


def main() -> None:
    parse = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parse.add_argument(
        "names", nargs="*", metavar="name", help=f"some of {', '.join(ORDER)} (default: all)"
    )
    chosen = parse.parse_args().names or list(ORDER)
    unknown = sorted(set(chosen) - set(ORDER))
    if unknown:
        parse.error(f"no benchmark named {', '.join(unknown)}")
    quiet_kafka_client_logs()
    clock = Stopwatch()
    for name in chosen:
        console.rule(f"bench.{name}")
        importlib.import_module(f"bench.{name}").main([])
    console.print(
        f"{write_document()} written; {len(chosen)} benchmark(s) in {clock.elapsed() / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
