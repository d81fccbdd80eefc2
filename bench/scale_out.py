"""Snapshots and scale-out, in one run.

    python bench/scale_out.py [--rounds 5] [--n 600000] [--chunks 24] [--skip-dask]

(a) **Snapshot of a pre-initialised language runtime**: ``bench/reactor/minirt.wasm``
    (a small Forth-like language built as a WASI reactor: ``_initialize``, then an
    exported ``init`` that builds its prime tables, dictionary and prelude; see
    minirt.c) instantiated and initialised, against instantiating a snapshot taken
    after ``init`` (``Module.snapshot()``), then the same first program run on
    each.  Also the snapshot's pickled size and the time to load it (in this
    process: ``pickle.loads``).  CPU time (``time.process_time``), best of
    ``--rounds``, the two sides interleaved.

    (QuickJS and CPython-for-WASI from the bench cache cannot be used: they reach
    their start-up only through ``_start``, which runs to the end of the program,
    so no state can be captured between the two; minirt is built for it.)

(b) **Dask, 2 workers against 1**: ``examples/dask_map.py``'s map (count primes
    below ``--n`` in ``--chunks`` tasks) on a ``LocalCluster`` of 1 and one of 2
    worker processes (one thread each), both started before timing; wall-clock
    time (the work is in the workers) of the map, the module shipped to the
    workers included, best of ``--rounds``, the clusters alternating; and how
    busy the workers were in that best round (their tasks' CPU time per worker and
    wall second), which shows how much of the machine other processes took.
"""
from __future__ import annotations

import argparse
import logging
import os
import pickle
import sys
import time
from typing import Any, Callable, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import pywazero as wz  # noqa: E402
from pywazero import wasi  # noqa: E402

MINIRT = os.path.join(HERE, "reactor", "minirt.wasm")
PROGRAM = "20 fib 1000 pi +"     # fib(20) + pi(1000) = 6765 + 168
PROGRAM_RESULT = 6765 + 168


def _run(m: Any, src: str) -> int:
    ptr = m.function("input_buffer")()
    m.memory().write(ptr, src.encode())
    return m.function("run")(len(src))


def _best(fns: List[Callable[[], Any]], rounds: int, clock: Callable[[], float]) -> List[float]:
    """Best time of each of ``fns`` over ``rounds``, calling them in turn each round."""
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            t0 = clock()
            fn()
            best[k] = min(best[k], clock() - t0)
    return best


def bench_snapshot(rounds: int) -> None:
    rt = wz.Runtime()
    wasi.instantiate(rt)
    with open(MINIRT, "rb") as f:
        cm = rt.compile(f.read())
    reactor = wz.ModuleConfig(start_functions=("_initialize",))

    def cold() -> Any:
        m = rt.instantiate(cm, reactor)
        m.function("init")()
        return m

    base = cold()
    assert _run(base, PROGRAM) == PROGRAM_RESULT
    t0 = time.process_time()
    snap = cold().snapshot(remove_exports=["init", "_initialize"])
    t_snap = time.process_time() - t0
    blob = pickle.dumps(snap)

    def warm() -> Any:
        return rt.instantiate(snap, wz.ModuleConfig(start_functions=()))

    assert _run(warm(), PROGRAM) == PROGRAM_RESULT
    t_cold, t_warm, t_load = _best([cold, warm, lambda: pickle.loads(blob)], rounds, time.process_time)
    t_cold_run, t_warm_run = _best([lambda: _run(cold(), PROGRAM), lambda: _run(warm(), PROGRAM)],
                                   max(1, rounds // 2), time.process_time)
    segs = sum(1 for d in snap.module.datas if d.init)
    mem = snap.module.mems[0].limits.min * 65536
    print("(a) snapshot of a pre-initialised language runtime (bench/reactor/minirt.wasm)")
    print(f"    memory {mem / 2**20:.1f} MiB captured as {segs} data segments "
          f"({sum(len(d.init) for d in snap.module.datas) / 2**20:.2f} MiB non-zero); "
          f"snapshot taken in {t_snap * 1000:.0f} ms (instantiate + init included), "
          f"pickled {len(blob) / 2**20:.2f} MiB, unpickled in {t_load * 1000:.1f} ms")
    print(f"    instantiate + _initialize + init : {t_cold * 1000:9.1f} ms")
    print(f"    instantiate the snapshot         : {t_warm * 1000:9.1f} ms   "
          f"({t_cold / t_warm:.0f}x faster)")
    print(f"    ... then run {PROGRAM!r}: {t_cold_run * 1000:.1f} ms cold vs "
          f"{t_warm_run * 1000:.1f} ms from the snapshot ({t_cold_run / t_warm_run:.1f}x)")


def _timed_task(cm: Any, lo: int, hi: int) -> Tuple[int, float]:
    """examples/dask_map.py's task, also returning its CPU time in the worker."""
    import dask_map

    t0 = time.process_time()
    return dask_map.count_primes(cm, lo, hi), time.process_time() - t0


def _cpu_share(client: Any, cm: Any, ranges: List[Tuple[int, int]], workers: int) -> Tuple[float, float]:
    """(wall seconds, the tasks' CPU seconds / (workers x wall)) of one map: below 1
    when the workers wait for a CPU (other processes on the machine)."""
    [cm_w] = client.scatter([cm], broadcast=True, hash=False)
    t0 = time.perf_counter()
    res = client.gather([client.submit(_timed_task, cm_w, lo, hi, pure=False) for lo, hi in ranges])
    wall = time.perf_counter() - t0
    return wall, sum(c for _, c in res) / (workers * wall)


def bench_dask(rounds: int, n: int, chunks: int) -> None:
    from dask.distributed import Client, LocalCluster

    import dask_map

    cm = dask_map.compile_module()
    ranges = dask_map.chunks(n, chunks)
    local = time.process_time()
    expected = sum(cm.runtime.instantiate(cm).function("count_primes")(lo, hi) for lo, hi in ranges)
    local = time.process_time() - local
    clusters: List[Tuple[Any, Any]] = []
    try:
        for workers in (1, 2):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
            client = Client(cluster)
            client.wait_for_workers(workers)
            clusters.append((cluster, client))
            assert sum(dask_map.dask_map(client, cm, ranges)) == expected   # warm-up, checked
        # (per round, each cluster in turn; the best round of each is kept)
        best = [(float("inf"), 0.0), (float("inf"), 0.0)]
        for _ in range(rounds):
            for k, (_, c) in enumerate(clusters):
                best[k] = min(best[k], _cpu_share(c, cm, ranges, k + 1))
        (t1, share1), (t2, share2) = best
        shares = [share1, share2]
    finally:
        for cluster, client in clusters:
            client.close()
            cluster.close()
    print(f"(b) Dask map of examples/dask_map.py: primes below {n} ({expected}), {len(ranges)} tasks")
    print(f"    in this process, no Dask : {local:7.2f} s (CPU)")
    print(f"    LocalCluster, 1 worker   : {t1:7.2f} s   (workers busy {shares[0]:.0%} of the time)")
    print(f"    LocalCluster, 2 workers  : {t2:7.2f} s   (workers busy {shares[1]:.0%} of the time)")
    print(f"    speed-up 2 vs 1 workers  : {t1 / t2:7.2f}x  "
          f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; \"busy\" is the "
          "tasks' CPU time per worker and wall second: below 100% the workers wait for a CPU)")


def main(argv: Any = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--n", type=int, default=600_000)
    p.add_argument("--chunks", type=int, default=24)
    p.add_argument("--skip-dask", action="store_true")
    args = p.parse_args(argv)
    print(f"pywazero {wz.__version__}, {sys.implementation.name} {sys.version.split()[0]}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    bench_snapshot(args.rounds)
    if not args.skip_dask:
        bench_dask(args.rounds, args.n, args.chunks)


if __name__ == "__main__":
    main()
