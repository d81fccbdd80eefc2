"""Map a WebAssembly function over many inputs on a Dask cluster.

The module is compiled once, here; its functions are translated to Python by one
local call, and the compiled module (pickled: its binary plus the translated code)
is shipped once to every worker with ``client.scatter(..., broadcast=True)``.
Workers only instantiate it (cheap) and call it: they never decode, validate or
translate the module again.

    python examples/dask_map.py                        # a LocalCluster of 2 worker processes
    python examples/dask_map.py --workers 1            # compare
    python examples/dask_map.py --scheduler tcp://host:8786   # any running cluster

Needs ``pip install "dask[distributed]"`` (pywazero itself does not).
"""
import argparse
import logging
import os
import time

import pywazero as wz

HERE = os.path.dirname(os.path.abspath(__file__))


def compile_module(engine="compiler"):
    """The example's module, compiled and with its functions translated (a first,
    small call does it), ready to ship."""
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    with open(os.path.join(HERE, "dask_map.wat")) as f:
        cm = rt.compile(f.read())
    rt.instantiate(cm).function("count_primes")(0, 100)
    return cm


def count_primes(cm, lo, hi):
    """A task, on a worker: ``cm`` is the worker's copy of the compiled module,
    attached to that process's ``Runtime.default`` (see pywazero's README)."""
    return cm.runtime.instantiate(cm).function("count_primes")(lo, hi)


def chunks(n, k):
    """``[0, n)`` as ``k`` ranges of about the same cost (trial division costs more
    for larger numbers, so later ranges are narrower)."""
    bounds = [round(n * (i / k) ** (2 / 3)) for i in range(k + 1)]
    return list(zip(bounds, bounds[1:]))


def dask_map(client, cm, ranges):
    """``[count_primes(lo, hi) for lo, hi in ranges]``, computed on ``client``'s
    workers, with ``cm`` sent to each worker once."""
    [cm_on_workers] = client.scatter([cm], broadcast=True, hash=False)
    futures = [client.submit(count_primes, cm_on_workers, lo, hi, pure=False) for lo, hi in ranges]
    return client.gather(futures)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler to connect to (default: start a LocalCluster)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    p.add_argument("--n", type=int, default=600_000, help="count the primes below N (default 600000)")
    p.add_argument("--chunks", type=int, default=24, help="tasks (default 24)")
    p.add_argument("--engine", choices=["compiler", "interpreter"], default="compiler")
    args = p.parse_args(argv)

    from dask.distributed import Client, LocalCluster

    cm = compile_module(args.engine)
    ranges = chunks(args.n, args.chunks)
    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        client.wait_for_workers(1 if cluster is None else args.workers)
        start = time.perf_counter()
        counts = dask_map(client, cm, ranges)
        elapsed = time.perf_counter() - start
        workers = len(client.scheduler_info()["workers"])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    print(f"primes below {args.n}: {sum(counts)}")
    print(f"{len(ranges)} tasks on {workers} worker(s): {elapsed:.2f} s")


if __name__ == "__main__":
    main()
