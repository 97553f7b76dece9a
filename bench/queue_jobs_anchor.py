"""The anchor for bench/queue_jobs_bench.sh: the same jobs written the reference's way (Python,
redis-py from Debian, one worker process each doing XREADGROUP COUNT 1, the job, XADD of the result,
XACK). Phase 1 enqueues the jobs one XADD each (as the reference's API does), phase 2 starts the
workers. Prints: jobs workers process_ms process_jobs_per_s errors enqueue_jobs_per_s.

usage: queue_jobs_anchor.py REDIS_URL JOBS WORKERS noop|small"""
import hashlib
import multiprocessing
import os
import sys
import time

import redis

PREFIX = "anchor-" + os.urandom(4).hex() + ":"
JOBS, RESULTS = PREFIX + "bench.jobs", PREFIX + "bench.results"


def worker(url, name, small, stop):
    r = redis.Redis.from_url(url)
    while not stop.is_set():
        resp = r.xreadgroup("workers", name, {JOBS: ">"}, count=1, block=100)
        for _stream, entries in resp or []:
            for msg_id, fields in entries:
                result = {"job_id": fields[b"job_id"], "status": "done"}
                if small:
                    result["sha256"] = hashlib.sha256(fields[b"payload"]).hexdigest()
                r.xadd(RESULTS, result)
                r.xack(JOBS, "workers", msg_id)


def producer(url, jobs, small):
    r = redis.Redis.from_url(url)
    payload = "x" * 4096
    for i in range(jobs):
        f = {"job_id": str(i), "job_type": "small" if small else "noop"}
        if small:
            f["payload"] = payload
        r.xadd(JOBS, f)


def main():
    url, jobs, workers, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    small = kind == "small"
    r = redis.Redis.from_url(url)
    r.xgroup_create(JOBS, "workers", id="0", mkstream=True)
    r.xgroup_create(RESULTS, "collector", id="0", mkstream=True)
    t0 = time.monotonic()
    producer(url, jobs, small)
    enqueue_s = time.monotonic() - t0
    stop = multiprocessing.Event()
    procs = [multiprocessing.Process(target=worker, args=(url, f"worker-{i}", small, stop)) for i in range(workers)]
    start = time.monotonic()
    for p in procs:
        p.start()
    seen = 0
    while seen < jobs and time.monotonic() - start < 300:
        resp = r.xreadgroup("collector", "collector", {RESULTS: ">"}, count=1000, block=100)
        for _stream, entries in resp or []:
            ids = [i for i, _ in entries]
            seen += len(ids)
            r.xack(RESULTS, "collector", *ids)
    elapsed = time.monotonic() - start
    stop.set()
    for p in procs:
        p.join()
    r.delete(JOBS, RESULTS)
    print(f"{seen} {workers} {int(elapsed * 1000)} {seen / elapsed:.0f} 0 {jobs / enqueue_s:.0f}")


if __name__ == "__main__":
    main()
