"""Accord's benchmarks (SPEC section 6): never timed tests, always ratios against a baseline
measured in the same run, on the real Kafka, OPA and PostgreSQL.

Each module runs alone (`python -m bench.<name>`) and writes `bench/results/<name>.json`;
`python -m bench` runs them all. Either way `docs/benchmarks.md` is rewritten from the results
files, so the document always shows the numbers of the last run of each benchmark.
"""
