"""
Load test of the running service: N concurrent users mixing RAG, plain chat and repeated questions.

By default it starts its own `rag serve` on the embedded default (a copy of hayhooks.yml: auth on with one API key
per simulated user, the answer cache in memory or Redis), runs each N for `--duration` seconds, and prints per N:
throughput, p50/p95/p99 latency by kind of request, errors, the service's peak memory (VmHWM of the worker), and
from the service's own access log the overhead p95 (total minus embedding, retrieval, ranking and LLM time).

    .venv/bin/python bench/load.py --users 1 8 32 --duration 60
    .venv/bin/python bench/load.py --users 32 --duration 300 --cache redis --kill-redis-at 60   (starts Redis if none)
    .venv/bin/python bench/load.py --url http://127.0.0.1:1416 --api-key ... --log var/log/serve.log

The local LLM (0.5B on 2 shared CPU cores) writes ~11 tokens/s: uncached answers are capped at `--max-tokens`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.served import ServedCopy, base_config  # noqa: E402
from service.gateway.auth import hash_api_key  # noqa: E402
from service.gateway.cache import bump_index_generation  # noqa: E402

QUESTIONS = [q["question"] for q in yaml.safe_load((ROOT / "samples" / "questions.yml").read_text(encoding="utf-8"))]
REPEATED = QUESTIONS[:6]  # asked again and again: answered from the cache after the first time
CHAT_PROMPTS = ["Dis bonjour en une phrase.", "Donne un synonyme de chantier.", "Traduis 'road' en français."]


@dataclass
class Sample:
    kind: str  # cached | rag | chat
    seconds: float
    status: int
    cache: str


@dataclass
class Run:
    users: int
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def user_loop(  # noqa: PLR0917
    client: httpx.AsyncClient, key: str, deadline: float, run: Run, mix: dict[str, float], max_tokens: int,
    rng: random.Random,
) -> None:
    headers = {"authorization": f"Bearer {key}"}
    kinds, weights = zip(*mix.items(), strict=True)
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        if kind == "repeated":
            body = {"model": "rag", "messages": [{"role": "user", "content": rng.choice(REPEATED)}],
                    "max_tokens": max_tokens}
        elif kind == "rag":
            question = f"{rng.choice(QUESTIONS)} (réf. {rng.randrange(10**9)})"  # a new question: no cache
            body = {"model": "rag", "messages": [{"role": "user", "content": question}], "max_tokens": max_tokens}
        else:
            prompt = f"{rng.choice(CHAT_PROMPTS)} #{rng.randrange(10**9)}"
            body = {"model": "rag", "use_rag": False, "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": max_tokens}
        started = time.perf_counter()
        try:
            response = await client.post("/v1/chat/completions", json=body, headers=headers)
            elapsed = time.perf_counter() - started
            cache = response.headers.get("x-cache", "none")
            label = "cached" if cache == "hit" else ("rag" if kind != "chat" else "chat")
            run.samples.append(Sample(label, elapsed, response.status_code, cache))
            if response.status_code != 200:
                run.errors.append(f"{response.status_code}: {response.text[:200]}")
        except httpx.HTTPError as e:
            run.samples.append(Sample(kind, time.perf_counter() - started, 0, "none"))
            run.errors.append(f"{type(e).__name__}: {e}")


def peak_rss_mb(pids: list[int]) -> float:
    """The largest VmHWM (peak resident memory) among the service's processes."""
    peak = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
    return peak


def service_pids(root_pid: int) -> list[int]:
    pids, frontier = [root_pid], [root_pid]
    while frontier:
        pid = frontier.pop()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        pids += [int(c) for c in children]
        frontier += [int(c) for c in children]
    return pids


def access_lines(log: Path, since: float) -> list[dict]:
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        if raw.startswith("{") and '"request_id"' in raw:
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if line.get("ts", 0) >= since and line.get("route") == "/v1/chat/completions":
                lines.append(line)
    return lines


class Service:
    """`rag serve` on a copy of hayhooks.yml, with one API key per simulated user."""

    def __init__(self, users: int, cache: str, data_dir: str | None, port: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="rag-load-"))
        self.keys = [secrets.token_urlsafe(24) for _ in range(users)]
        config = base_config()
        config["server"]["port"] = port
        config["auth"] = {
            "mode": "required",
            "api_keys": [{"name": f"user{i}", "sha256": hash_api_key(k)} for i, k in enumerate(self.keys)],
        }
        config["cache"]["backend"] = cache
        config["rate_limit"] = {"backend": cache if cache != "off" else "memory", "requests_per_minute": 100_000,
                                "concurrent_streams": 4}
        config["redis"]["retry_after_seconds"] = 2
        # A copy of the indexed stores: the embedded Qdrant allows one process per folder, and uploads stay there.
        self.served = ServedCopy(config, data_dir or config["stores"]["data_dir"], self.tmp)
        self.data_dir = str(self.served.data)
        self.url = self.served.url
        self.log = self.served.log

    def stop(self) -> None:
        self.served.stop()


def redis_answers(port: int = 6379) -> bool:
    """True when a Redis answers PING on 127.0.0.1:`port`."""
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


async def kill_and_restart_redis(at: float, down_for: float, events: list[str]) -> None:
    await asyncio.sleep(at)
    events.append(f"{time.strftime('%H:%M:%S')} stop_redis.sh")
    await asyncio.to_thread(subprocess.run, ["bash", str(ROOT / "scripts" / "stop_redis.sh")], check=False)
    await asyncio.sleep(down_for)
    events.append(f"{time.strftime('%H:%M:%S')} start_redis.sh")
    await asyncio.to_thread(subprocess.run, ["bash", str(ROOT / "scripts" / "start_redis.sh")], check=False)


async def run_level(  # noqa: PLR0917
    url: str, keys: list[str], users: int, duration: float, mix: dict[str, float], max_tokens: int,
    kill_redis_at: float | None, events: list[str],
) -> Run:
    run = Run(users)
    limits = httpx.Limits(max_connections=users + 4, max_keepalive_connections=users + 4)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        started = time.monotonic()
        deadline = started + duration
        tasks = [user_loop(client, keys[i % len(keys)], deadline, run, mix, max_tokens, random.Random(i))  # noqa: S311 (load, not security)
                 for i in range(users)]
        if kill_redis_at is not None:
            tasks.append(kill_and_restart_redis(kill_redis_at, 10, events))
        await asyncio.gather(*tasks)
        run.seconds = time.monotonic() - started
    return run


def report(run: Run, lines: list[dict], peak_mb: float) -> dict:
    ok = [s for s in run.samples if s.status == 200]
    row = {
        "users": run.users,
        "requests": len(run.samples),
        "errors": len(run.errors),
        "rps": len(ok) / run.seconds if run.seconds else 0.0,
        "peak_rss_mb": peak_mb,
    }
    for kind in ("cached", "rag", "chat", "all"):
        secs = [s.seconds * 1000 for s in ok if kind in {"all", s.kind}]
        row[kind] = {"n": len(secs), "p50": pct(secs, 50), "p95": pct(secs, 95), "p99": pct(secs, 99)}
    model_stages = ("embedding", "retrieval", "ranking", "llm")
    overhead = [max(0.0, line["ms"]["total"] - sum(line["ms"].get(k, 0.0) for k in model_stages)) for line in lines]
    glue = [line["ms"].get("other_components", 0.0) for line in lines]
    outside = [line["ms"]["total"] - sum(v for k, v in line["ms"].items() if k not in {"total", "overhead"})
               for line in lines]
    row["overhead_ms"] = {"n": len(overhead), "p50": pct(overhead, 50), "p95": pct(overhead, 95),
                          "other_components_p95": pct(glue, 95), "outside_graph_p50": pct(outside, 50),
                          "outside_graph_p95": pct(outside, 95)}
    return row


def print_table(rows: list[dict]) -> None:
    print()
    print(f"{'N':>3} {'req':>6} {'err':>4} {'req/s':>7} {'peak MB':>8} | {'kind':<6} {'n':>5} {'p50 ms':>9} "
          f"{'p95 ms':>9} {'p99 ms':>9}")
    for row in rows:
        first = True
        for kind in ("all", "cached", "rag", "chat"):
            k = row[kind]
            head = (f"{row['users']:>3} {row['requests']:>6} {row['errors']:>4} {row['rps']:>7.2f} "
                    f"{row['peak_rss_mb']:>8.0f}") if first else " " * 32
            print(f"{head} | {kind:<6} {k['n']:>5} {k['p50']:>9.1f} {k['p95']:>9.1f} {k['p99']:>9.1f}")
            first = False
        o = row["overhead_ms"]
        print(f"{'':32} | overhead (total - embedding/retrieval/ranking/LLM), {o['n']} requests: "
              f"p50 {o['p50']:.2f} ms, p95 {o['p95']:.2f} ms (of which graph glue components p95 "
              f"{o['other_components_p95']:.2f} ms)")
        print(f"{'':32} | outside the graph (gateway, Hayhooks, answering code): p50 {o['outside_graph_p50']:.2f} ms, "
              f"p95 {o['outside_graph_p95']:.2f} ms")


def measure_levels(  # noqa: PLR0917
    args: argparse.Namespace, mix: dict[str, float], service: Service | None, url: str, keys: list[str],
    log: Path | None, pid: int | None, events: list[str],
) -> list[dict]:
    """Run each N of `--users` for `--duration` seconds; one row of figures per N."""
    rows = []
    for users in args.users:
        if service is not None:  # each level starts with an empty answer cache
            bump_index_generation(service.data_dir)
        since = time.time()
        run = asyncio.run(run_level(url, keys, users, args.duration, mix, args.max_tokens, args.kill_redis_at, events))
        time.sleep(1)
        lines = access_lines(log, since) if log else []
        peak = peak_rss_mb(service_pids(pid)) if pid else float("nan")
        rows.append(report(run, lines, peak))
        print(f"N={users}: {len(run.samples)} requests, {len(run.errors)} errors in {run.seconds:.0f} s", flush=True)
        for error in sorted(set(run.errors))[:5]:
            print(f"  error: {error}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--duration", type=float, default=60, help="seconds per level")
    parser.add_argument("--mix", default="repeated=0.8,rag=0.1,chat=0.1", help="weights of the request kinds")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--cache", choices=["memory", "redis", "off"], default="memory")
    parser.add_argument("--kill-redis-at", type=float, default=None, help="stop Redis this many s into each level")
    parser.add_argument("--data-dir", default=None, help="an indexed stores.data_dir (default: hayhooks.yml's)")
    parser.add_argument("--port", type=int, default=1498)
    parser.add_argument("--url", default=None, help="an already running service (then --api-key and --log)")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--log", default=None, help="that service's log, for the overhead figures")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--warmup", type=float, default=0,
                        help="seconds of load at the highest N before measuring (not counted): a freshly started "
                             "local vLLM answers 2-4 times slower for its first minutes under load")
    args = parser.parse_args()
    mix = {k: float(v) for k, v in (part.split("=") for part in args.mix.split(","))}

    started_redis = False
    if args.cache == "redis" and not args.url and not redis_answers():
        subprocess.run(["bash", str(ROOT / "scripts" / "start_redis.sh")], check=True)
        started_redis = True  # stopped again at the end
    service = None
    if args.url:
        url, keys, log, pid = args.url, [args.api_key or ""], Path(args.log) if args.log else None, None
    else:
        service = Service(max(args.users), args.cache, args.data_dir, args.port)
        url, keys, log, pid = service.url, service.keys, service.log, service.process.pid
        print(f"service: {url} (config {service.config}, log {service.log})", flush=True)
    rows: list[dict] = []
    events: list[str] = []
    try:
        if args.warmup > 0:
            warm = asyncio.run(run_level(url, keys, max(args.users), args.warmup, mix, args.max_tokens, None, []))
            print(f"warm-up: {len(warm.samples)} requests in {warm.seconds:.0f} s (not counted)", flush=True)
        rows = measure_levels(args, mix, service, url, keys, log, pid, events)
    finally:
        if service is not None:
            service.stop()
        if started_redis:
            subprocess.run(["bash", str(ROOT / "scripts" / "stop_redis.sh")], check=False)
    print_table(rows)
    print(f"\nmix {mix}, max_tokens {args.max_tokens}, cache {args.cache}, {args.duration:.0f} s per level")
    for event in events:
        print(f"  {event}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
