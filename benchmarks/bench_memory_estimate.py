"""The weight estimate against the measured memory of a load, each precision in a fresh process.

    .venv/bin/python -m benchmarks.bench_memory_estimate

A 19 M-weight Wan transformer (random weights) is saved as a diffusers folder, then loaded as
Studio loads it (``from_pretrained``, then the precision applied, every weight read) once per
precision, each in a new Python process: nothing freed by earlier work can be reused there and
hide part of the increase. The RSS increase must be within 2x of ``estimate(...).weights``.

Moved out of `make test`: the two fresh processes cost ~25 s of CPU, ~10 s of it each just
importing torch and diffusers. ``tests/test_models_precision.py`` keeps the same check in the
test process, each load after freed memory is handed back to the OS (``malloc_trim``); both ways
measured the same figures to within 1 %. Linux only (``/proc/self/status``, glibc).

Prints each figure and exits 1 if a bar is missed.
"""

from __future__ import annotations

import ctypes
import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Big enough that the weights stand far above RSS noise: 19 M weights, 76 MB in fp32.
RSS_WAN = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=8,
    attention_head_dim=64,
    in_channels=16,
    out_channels=16,
    text_dim=32,
    freq_dim=256,
    ffn_dim=2048,
    num_layers=4,
)


def rss() -> int:
    """This process's resident memory in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def load_as_studio(transformer: Path, precision: str) -> Any:
    """The transformer as Studio loads it: from_pretrained, then the precision applied."""
    import torch
    from diffusers import WanTransformer3DModel

    from nodes.diffusion.precision import apply_precision

    model = WanTransformer3DModel.from_pretrained(transformer)
    apply_precision(SimpleNamespace(transformer=model), precision, torch.float32, lambda _m: 0)
    with torch.no_grad():  # touch every weight: memory-mapped pages count once read
        sum(float(p.float().sum()) for p in model.parameters())
    return model


def measure_here(transformer: Path, precisions: tuple[str, ...]) -> dict[str, int]:
    """RSS increase of one load per precision, in this process."""
    for precision in precisions:  # first-use costs (lazy imports, kernels) are not the model's
        load_as_studio(transformer, precision)
    increases = {}
    for precision in precisions:
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give freed memory back: none of it is reused
        before = rss()
        loaded = load_as_studio(transformer, precision)
        gc.collect()
        increases[precision] = rss() - before
        del loaded
    return increases


MEASURE = """
import json, sys
from pathlib import Path
import torch
from benchmarks.bench_memory_estimate import measure_here

torch.set_num_threads(1)
print(json.dumps(measure_here(Path(sys.argv[1]), (sys.argv[2],))[sys.argv[2]]))
"""


def write_rss_model(folder: Path) -> Path:
    """A diffusers folder holding only the 19 M-weight transformer (seeded: same weights)."""
    import torch
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    WanTransformer3DModel(**RSS_WAN).save_pretrained(folder / "transformer")
    index = {"_class_name": "WanPipeline", "transformer": ["diffusers", "WanTransformer3DModel"]}
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def measure_fresh(transformer: Path, precision: str) -> int:
    """RSS increase of one load under ``precision``, in a new process."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(transformer), precision],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return int(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    from studio.engine.memory_estimate import estimate
    from studio.engine.models import read_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = write_rss_model(Path(tmp) / "wan-rss")
        model = read_model(folder)
        assert model is not None
        ok = True
        print(
            f"{'precision':9s} {'estimate MB':>11s} {'measured MB':>11s} {'ratio':>6s}  bar 0.5-2"
        )
        for precision in ("bf16", "fp8"):
            guess = estimate(model, precision, "fp32").weights
            increase = measure_fresh(folder / "transformer", precision)
            ratio = increase / guess
            ok &= 0.5 <= ratio <= 2
            print(f"{precision:9s} {guess / 1e6:11.1f} {increase / 1e6:11.1f} {ratio:6.2f}")
        thirds = (
            estimate(model, "fp8", "fp32").weights < estimate(model, "bf16", "fp32").weights / 3
        )
        print(f"fp8 estimate under a third of bf16's: {thirds}")
    ok &= thirds
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
