"""
Fuzz the running service's OpenAPI schema with schemathesis; print how many cases ran and how many got a 5xx.

By default it starts its own `rag serve` (embedded default, auth on with one API key, see bench/load.py) and
fuzzes every operation; the HAR report of every request made is kept in the temporary folder it prints.

    .venv/bin/python bench/fuzz.py --max-examples 25
    .venv/bin/python bench/fuzz.py --url http://127.0.0.1:1416 --api-key ...

A 503 (the LLM or every search store down) is an answer the service means; a 500 is a bug.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Service  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=25, help="cases per operation and phase")
    parser.add_argument("--max-time", type=int, default=900, help="time budget of the whole run, seconds")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--port", type=int, default=1497)
    parser.add_argument("--url", default=None)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    service = None
    if args.url:
        url, key = args.url, args.api_key or ""
    else:
        service = Service(1, "memory", args.data_dir, args.port)
        url, key = service.url, service.keys[0]
    out = Path(tempfile.mkdtemp(prefix="rag-fuzz-"))
    har = out / "fuzz.har"
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json",
        "--header", f"Authorization: Bearer {key}",
        "--checks", "not_a_server_error",
        "--max-examples", str(args.max_examples),
        "--max-time", str(args.max_time),
        "--request-timeout", "300",
        "--seed", str(args.seed),
        "--workers", "2",
        "--suppress-health-check", "all",
        "--exclude-path-regex", "^/(deploy|undeploy)",  # admin-only routes that would deploy code
        "--report", "har", "--report-har-path", str(har),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    finally:
        if service is not None:
            service.stop()
    (out / "schemathesis.log").write_text(done.stdout + done.stderr)
    if not har.is_file():
        print(done.stdout[-4000:], done.stderr[-2000:])
        raise SystemExit("schemathesis wrote no report")
    entries = json.loads(har.read_text())["log"]["entries"]
    by_route: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for entry in entries:
        path = entry["request"]["url"].split("?")[0].removeprefix(url)
        route = f"/{path.split('/')[1]}/{{name}}" if path.startswith(("/draw/", "/status/")) else path
        by_route[f"{entry['request']['method']} {route}"][entry["response"]["status"]] += 1
    print(f"{'operation':<40} {'cases':>6}  statuses")
    total = collections.Counter()
    for route in sorted(by_route):
        counts = by_route[route]
        total.update(counts)
        statuses = ", ".join(f"{code}×{n}" for code, n in sorted(counts.items()))
        print(f"{route:<40} {sum(counts.values()):>6}  {statuses}")
    errors = sum(n for code, n in total.items() if code >= 500 and code != 503)
    print(f"\n{sum(total.values())} cases ran, {total[500]} returned 500, {errors} returned a 5xx other than 503 "
          f"(503: {total[503]}); schemathesis exit code {done.returncode}; logs in {out}")


if __name__ == "__main__":
    main()
