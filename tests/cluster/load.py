"""Bounded homepage load from a pod inside the test cluster (standard library only).

Run by tests/cluster as `python3 load.py URL SECONDS WORKERS USERS...` in a pod of the Debian
base image, against the recommendation API's Service; prints one JSON summary line at the end:
requests answered by Triton (`ok`), by the popularity fallback (`fallback`), and failed ones
(`failed`: no answer, an HTTP error, a timeout), also per second, so the test can tell when a
disruption began and ended. Each worker paces itself (at most ~20 requests/s): this measures
availability, not throughput. SIGTERM ends the run early, with its summary (the test sends it
through `kubectl exec` once the disruption is over, so the pod's log survives).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

PAUSE_S = 0.05
TIMEOUT_S = 5.0  # a homepage slower than this counts as failed


def one(url: str, user: str) -> tuple[str, str]:
    """(outcome, why) of one homepage request."""
    body = json.dumps({"user_id": user, "num_items": 8}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        return "failed", f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return "failed", f"{type(exc).__name__}: {exc}"
    if not answer.get("item_ids"):
        return "failed", f"empty homepage from {answer.get('source')}"  # an empty homepage is no homepage
    return ("fallback" if answer.get("fallback") else "ok"), ""


def main(url: str, seconds: float, workers: int, users: list[str]) -> dict[str, object]:
    totals: Counter[str] = Counter()
    per_second: dict[int, Counter[str]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    start = time.monotonic()

    def work(index: int) -> None:
        n = index
        while (elapsed := time.monotonic() - start) < seconds and not stop.is_set():
            outcome, why = one(url, users[n % len(users)])
            n += workers
            with lock:
                totals[outcome] += 1
                per_second.setdefault(int(elapsed), Counter())[outcome] += 1
                if outcome == "failed" and len(errors) < 5:
                    errors.append(f"{elapsed:.1f}s {why}")
            time.sleep(PAUSE_S)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)  # the main thread stays free to take the signal
    return {
        "requests": sum(totals.values()),
        "ok": totals["ok"],
        "fallback": totals["fallback"],
        "failed": totals["failed"],
        "seconds": {str(s): dict(c) for s, c in sorted(per_second.items())},
        "first_failures": errors,
    }


if __name__ == "__main__":
    summary = main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:] or ["u"])
    print("LOAD " + json.dumps(summary), flush=True)
