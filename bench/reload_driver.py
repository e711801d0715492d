#!/usr/bin/env python3
"""Swap driver for bench/reload.sh (standard library only).

While the gateway is under load, replaces FILTERS_DIR/json-enrich.wasm FILTER_SWAPS times and the
config file CONFIG_SWAPS times, about SPACING seconds apart, each the safe way (a temporary file
whose name starts with '.' in the same directory, then rename). For every swap it measures, from
just before the rename:

  filter swap: until GET /admin/filters shows json-enrich with the new file's sha256
  config swap: until GET /admin/reloads shows the generation incremented

polling the admin listener every POLL seconds over one keep-alive connection. Prints one JSON
object with the latencies (ms), the reload status at the end and any failed swaps.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import sys
import time


class Admin:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self, path):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.conn.request("GET", path)
                resp = self.conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"{path}: HTTP {resp.status}: {body[:200]!r}")
                return json.loads(body)
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def filter_sha(self, name):
        for f in self.get("/admin/filters")["filters"]:
            if f["name"] == name:
                return f["sha256"]
        return None

    def reloads(self):
        return self.get("/admin/reloads")


def custom_section(name, payload):
    """A wasm custom section (id 0): size, name length, name, payload; one-byte LEB128s."""
    name = name.encode()
    size = 1 + len(name) + len(payload)
    assert len(name) < 128 and size < 128, "section too large for a one-byte LEB128"
    return bytes([0x00, size, len(name)]) + name + payload


def safe_replace(path, data):
    """Writes data beside path under a hidden name, then renames. Returns t0 (just before rename)."""
    d, base = os.path.split(path)
    tmp = os.path.join(d, f".{base}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    t0 = time.monotonic()
    os.rename(tmp, path)
    return t0


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    # nearest-rank
    k = max(1, int(-(-p * len(v) // 100)))
    return v[k - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admin-port", type=int, required=True)
    ap.add_argument("--filters-dir", required=True)
    ap.add_argument("--original", required=True, help="pristine copy of json-enrich.wasm")
    ap.add_argument("--config", required=True)
    ap.add_argument("--filter-swaps", type=int, default=20)
    ap.add_argument("--config-swaps", type=int, default=5)
    ap.add_argument("--spacing", type=float, default=1.0)
    ap.add_argument("--poll", type=float, default=0.002)
    ap.add_argument("--swap-timeout", type=float, default=10.0)
    args = ap.parse_args()

    admin = Admin(args.admin_port)
    filter_path = os.path.join(args.filters_dir, "json-enrich.wasm")
    with open(args.original, "rb") as f:
        original = f.read()
    with open(args.config) as f:
        config_text = f.read()
    if not re.search(r"(?m)^max_body_bytes = \d+$", config_text):
        sys.exit("config has no 'max_body_bytes = N' line to change")

    # Interleave: a config swap after every (filter_swaps / config_swaps) filter swaps.
    plan = []
    every = max(1, args.filter_swaps // max(1, args.config_swaps))
    c = 0
    for i in range(args.filter_swaps):
        plan.append(("filter", i))
        if (i + 1) % every == 0 and c < args.config_swaps:
            plan.append(("config", c))
            c += 1
    while c < args.config_swaps:
        plan.append(("config", c))
        c += 1

    filter_ms, config_ms, failed = [], [], []
    start_status = admin.reloads()
    failures_seen = start_status["failures"]
    for kind, i in plan:
        status = admin.reloads()
        gen_before = status["generation"]
        if status["failures"] != failures_seen:
            failed.append({"before": f"{kind} {i}", "reloads": status})
            failures_seen = status["failures"]
        if kind == "filter":
            payload = f"swap {i} {time.time_ns()}".encode()
            data = original + custom_section("wafka-bench", payload)
            want = hashlib.sha256(data).hexdigest()
            t0 = safe_replace(filter_path, data)
            done = lambda: admin.filter_sha("json-enrich") == want  # noqa: E731
        else:
            new_text = re.sub(
                r"(?m)^max_body_bytes = \d+$",
                f"max_body_bytes = {1048576 + 1 + i}",
                config_text,
            )
            t0 = safe_replace(args.config, new_text.encode())
            done = lambda: admin.reloads()["generation"] > gen_before  # noqa: E731
        deadline = t0 + args.swap_timeout
        ok = False
        while time.monotonic() < deadline:
            if done():
                ok = True
                break
            time.sleep(args.poll)
        elapsed = (time.monotonic() - t0) * 1000.0
        if ok:
            (filter_ms if kind == "filter" else config_ms).append(elapsed)
        else:
            failed.append({"swap": f"{kind} {i}", "timeout_s": args.swap_timeout,
                           "reloads": admin.reloads()})
        print(f"  {kind} swap {i}: {'live' if ok else 'NOT live'} after {elapsed:.1f} ms",
              file=sys.stderr)
        # Next swap about SPACING after this one started, and never before this reload settled.
        time.sleep(max(0.0, t0 + args.spacing - time.monotonic()))

    time.sleep(0.3)
    end_status = admin.reloads()
    if end_status["failures"] != failures_seen:
        failed.append({"after": "last swap", "reloads": end_status})

    def summary(values):
        return {
            "n": len(values),
            "p50": percentile(values, 50),
            "max": max(values) if values else None,
            "min": min(values) if values else None,
            "all": [round(v, 1) for v in values],
        }

    print(json.dumps({
        "filter": summary(filter_ms),
        "config": summary(config_ms),
        "start": start_status,
        "end": end_status,
        "failed": failed,
    }))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
