"""Front-end throughput: binary decode + validate, and text parsing.

    python bench/decode_validate.py [--size-mb 1.0] [--spec-dir ../shared/spec]

Builds a synthetic module of about ``--size-mb`` megabytes (many functions mixing
control flow, memory, numeric and SIMD instructions), then reports decode and
validate throughput in MB/s, and how long the largest spec .wast takes to read and
parse.  Figures are wall-clock on this machine: compare runs, not absolute numbers.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pywazero.binary.decoder import decode_module  # noqa: E402
from pywazero.binary.encoder import encode_module  # noqa: E402
from pywazero.text.parser import parse_module_text  # noqa: E402
from pywazero.wasm.validation import validate_module  # noqa: E402

FUNC_TEMPLATES = [
    """(func (param i32 i32) (result i32) (local i32 i64)
      (block $done (loop $top
        (br_if $done (i32.ge_u (local.get 2) (local.get 1)))
        (local.set 3 (i64.add (local.get 3) (i64.extend_i32_u (i32.load offset=4 (local.get 2)))))
        (i32.store (local.get 2) (i32.mul (local.get 0) (i32.const {k})))
        (local.set 2 (i32.add (local.get 2) (i32.const 4)))
        (br $top)))
      (i32.wrap_i64 (local.get 3)))""",
    """(func (param f64 f64) (result f64)
      (if (result f64) (f64.lt (local.get 0) (local.get 1))
        (then (f64.mul (local.get 0) (f64.const {k}.5)))
        (else (f64.sqrt (f64.add (local.get 1) (f64.const 1e{e}))))))""",
    """(func (param i32) (result i32)
      (block (block (block (block
        (br_table 0 1 2 3 (local.get 0)))
        (return (i32.const {k})))
        (return (i32.const 2)))
        (return (call 0 (local.get 0) (i32.const 3))))
      (i32.const -1))""",
    """(func (param v128) (result v128)
      (i32x4.add (local.get 0) (v128.const i32x4 {k} 2 3 4))
      (f32x4.mul (v128.const f32x4 1.5 2.5 3.5 4.5))
      (i8x16.swizzle (local.get 0)))""",
]


def synthetic_module_bytes(target_bytes: int) -> bytes:
    rng = random.Random(1)
    head = "(module (memory 1) (table 4 funcref)\n"
    # Estimate the binary size from a sample, then produce enough functions.
    sample = encode_module(parse_module_text(head + "\n".join(
        t.format(k=1, e=2) for t in FUNC_TEMPLATES) + ")"))
    per_round = max(1, len(sample) - 20)
    rounds = max(1, target_bytes // per_round)
    data = _build(head, rounds, rng)
    if len(data) < target_bytes:  # the estimate ignores sharing: scale once to reach the size
        data = _build(head, int(rounds * target_bytes / len(data)) + 1, rng)
    return data


def _build(head: str, rounds: int, rng: random.Random) -> bytes:
    funcs = []
    for _ in range(rounds):
        for t in FUNC_TEMPLATES:
            funcs.append(t.format(k=rng.randrange(1000), e=rng.randrange(10)))
    return encode_module(parse_module_text(head + "\n".join(funcs) + ")"))


def best_of(n: int, fn) -> float:
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=1.0)
    ap.add_argument("--spec-dir", default=os.environ.get("PYWAZERO_SPEC_DIR", str(ROOT.parent / "shared" / "spec")))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    data = synthetic_module_bytes(int(args.size_mb * 1_000_000))
    mb = len(data) / 1_000_000
    module = decode_module(data)
    t_decode = best_of(args.repeat, lambda: decode_module(data))
    t_validate = best_of(args.repeat, lambda: validate_module(decode_module(data))) - t_decode
    print(f"synthetic module: {mb:.2f} MB, {len(module.funcs)} functions, "
          f"{sum(len(f.body) for f in module.funcs)} instructions")
    print(f"  decode            {t_decode:7.3f} s  {mb / t_decode:7.2f} MB/s")
    print(f"  validate          {t_validate:7.3f} s  {mb / max(t_validate, 1e-9):7.2f} MB/s")
    print(f"  decode+validate   {t_decode + t_validate:7.3f} s  {mb / (t_decode + t_validate):7.2f} MB/s")

    spec = Path(args.spec_dir)
    wasts = sorted(spec.glob("**/*.wast"), key=lambda p: p.stat().st_size)
    if wasts:
        from pywazero.text.parser import parse_module
        from pywazero.script.wast import ModuleCommand, read_script

        largest = wasts[-1]
        text = largest.read_bytes()
        t0 = time.perf_counter()
        commands = read_script(text)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        modules = 0
        for cmd in commands:
            if isinstance(cmd, ModuleCommand) and cmd.form == "text":
                parse_module(cmd.source, cmd.node)
                modules += 1
        t_parse = time.perf_counter() - t0
        print(f"largest spec script {largest.relative_to(spec)} ({len(text) / 1e6:.2f} MB, "
              f"{len(commands)} commands): read {t_read:.2f} s, "
              f"parse its {modules} text modules {t_parse:.2f} s")


if __name__ == "__main__":
    main()
