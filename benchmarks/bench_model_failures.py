"""Time to fail on a dead or broken model server, and what the checked retry loop costs.

Against a real local OpenAI-compatible server (the test server of tests/language/fake_openai.py,
http.server in a thread), in one process:
  - time until the step fails: refused connection at setup, /v1/models hanging at setup,
    completions hanging (per-attempt timeout 2 s), HTTP 500 on every request mid-run;
  - a healthy server: the openai backend (validation, counting, own retries) side by side with
    bare `client.chat.completions.create` calls in the same thread pool, as a ratio.
Before issue 10 a refused connection ran 210 s and exited 0 with 110 template fallbacks.

    .venv/bin/python benchmarks/bench_model_failures.py [--requests 200]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "language"))

from fake_openai import FakeServer, closed_port_url  # noqa: E402

from annotators.backends import Request, make_backend, user_message  # noqa: E402
from annotators.backends.base import BackendUnavailable  # noqa: E402


def time_to_fail(action) -> float:
    started = time.monotonic()
    try:
        action()
    except (BackendUnavailable, ValueError):
        return time.monotonic() - started
    raise SystemExit("expected a failure")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    import openai  # noqa: F401  (imported once here, so no row pays the import)

    requests = [Request(messages=[user_message(f"Rate sample {i}.")]) for i in range(args.requests)]
    url = closed_port_url()
    print(f"refused connection at setup:        {time_to_fail(lambda: make_backend('openai', base_url=url)):7.2f} s")
    with FakeServer(models_hang=True) as server:
        seconds = time_to_fail(lambda: make_backend("openai", base_url=server.url))
        print(f"/v1/models hangs (connect 5 s):     {seconds:7.2f} s")
    with FakeServer(default="hang") as server:
        backend = make_backend("openai", base_url=server.url, timeout_s=2)
        seconds = time_to_fail(lambda: backend.generate(requests))
        print(f"completions hang (timeout 2 s):     {seconds:7.2f} s after {server.posts} requests "
              f"(of {args.requests})")
    with FakeServer(default="500") as server:
        backend = make_backend("openai", base_url=server.url)
        seconds = time_to_fail(lambda: backend.generate(requests))
        print(f"HTTP 500 on every request:          {seconds:7.2f} s after {server.posts} requests")

    with FakeServer(answer="4") as server:
        backend = make_backend("openai", base_url=server.url, concurrency=8)
        client = backend.client

        def ours() -> None:
            assert all(g.ok for g in backend.generate(requests))

        def bare() -> None:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda r: client.chat.completions.create(
                    model="fake", messages=[{"role": "user", "content": "x"}]), requests))

        timings = {"backend": [], "bare": []}
        for _ in range(3):  # alternated, best of 3: neither side pays the warm-up alone
            for name, run in (("bare", bare), ("backend", ours)):
                started = time.monotonic()
                run()
                timings[name].append(time.monotonic() - started)
        best = {name: min(values) for name, values in timings.items()}
    print(f"healthy server, {args.requests} requests (best of 3): backend {best['backend']:.2f} s, "
          f"bare client {best['bare']:.2f} s, ratio {best['backend'] / best['bare']:.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
