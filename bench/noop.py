"""The baseline job for bench_runs.py: does nothing, so what is measured is RQ itself."""


def noop() -> str:
    return "ok"
