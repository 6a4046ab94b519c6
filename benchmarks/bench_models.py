"""Speed of every catalogue architecture on this machine, side by side with the built-in FFDNet.

Each downloadable model is built at its real size (the published configuration) with random
weights: speed does not depend on the weight values, and the weights cannot be downloaded here.
Each goes through the engine's own path (models/spandrel_adapter.py descriptor -> ModelRunner),
so padding, TLC and precision are what a user gets. Models are timed in turn, round after round,
and the figure is the median round, so a busy machine slows all of them alike.

    python benchmarks/bench_models.py [--side 256] [--rounds 3]

Writes benchmarks/results/models.md. Quality of downloaded models cannot be measured offline:
the table quotes the published figures from the catalogue instead.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from app.engine.memory import auto_tile_size  # noqa: E402
from app.engine.runner import ModelRunner  # noqa: E402
from models import CATALOGUE, ModelDescriptor, load_model  # noqa: E402

PHOTO_MP = 24.0


def real_size_modules() -> dict[str, torch.nn.Module]:
    """The catalogue's architectures at their published configurations (random weights)."""
    from spandrel.architectures.DRUNet import DRUNet
    from spandrel.architectures.FBCNN import FBCNN
    from spandrel.architectures.NAFNet import NAFNet
    from spandrel.architectures.SCUNet import SCUNet

    unet = dict(nc=[64, 128, 256, 512], nb=4, act_mode="R", downsample_mode="strideconv",
                upsample_mode="convtranspose")
    return {
        "nafnet-sidd-32": NAFNet(img_channel=3, width=32, middle_blk_num=12, enc_blk_nums=[2, 2, 4, 8],
                                 dec_blk_nums=[2, 2, 2, 2]),
        "nafnet-sidd-64": NAFNet(img_channel=3, width=64, middle_blk_num=12, enc_blk_nums=[2, 2, 4, 8],
                                 dec_blk_nums=[2, 2, 2, 2]),
        "scunet-real-psnr": SCUNet(in_nc=3, config=[4, 4, 4, 4, 4, 4, 4], dim=64),
        "drunet-color": DRUNet(in_nc=4, out_nc=3, **unet),
        "nafnet-gopro-32": NAFNet(img_channel=3, width=32, middle_blk_num=1, enc_blk_nums=[1, 1, 1, 28],
                                  dec_blk_nums=[1, 1, 1, 1]),
        "nafnet-gopro-64": NAFNet(img_channel=3, width=64, middle_blk_num=1, enc_blk_nums=[1, 1, 1, 28],
                                  dec_blk_nums=[1, 1, 1, 1]),
        "fbcnn-color": FBCNN(in_nc=3, out_nc=3, **unet),
    }


def descriptors() -> dict[str, ModelDescriptor]:
    from models.spandrel_adapter import describe_state_dict

    described = {"ffdnet-color": load_model("ffdnet-color")}
    modules = real_size_modules()
    for entry in CATALOGUE:
        if entry.name in modules:
            state = {k: v.contiguous() for k, v in modules[entry.name].state_dict().items()}
            described[entry.name] = describe_state_dict(state, name=entry.name, title=entry.title, task=entry.task,
                                                        licence=entry.licence)
    return described


def time_once(runner: ModelRunner, tile: np.ndarray) -> float:
    level = None if runner.model.blind else 25 / 255
    started = time.perf_counter()
    runner(tile, level)
    return time.perf_counter() - started


def photo_seconds(model: ModelDescriptor, precision: str, seconds_per_mp: float) -> float:
    """A 24 MP photo in the engine's automatic tiles: every tile also computes its context margin."""
    side = auto_tile_size(torch.device("cpu"), precision, margin=model.tile_margin,
                          bytes_per_pixel=model.memory_per_pixel(precision))
    overhead = ((side + 2 * model.tile_margin) / side) ** 2
    return PHOTO_MP * seconds_per_mp * overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=256, help="tile side timed (pixels)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    tile = np.random.default_rng(0).random((args.side, args.side, 3), dtype=np.float32)
    runners: dict[tuple[str, str], ModelRunner] = {}
    for name, model in descriptors().items():
        for precision in ("fp32", "int8"):
            if precision in model.precisions_on("cpu") and (precision == "fp32" or model.traceable):
                runners[(name, precision)] = ModelRunner(model, torch.device("cpu"), precision)
    for runner in runners.values():
        runner.prepare()
        time_once(runner, tile)  # warm-up at the timed size (traces, allocator)
    rounds: dict[tuple[str, str], list[float]] = {key: [] for key in runners}
    for _ in range(args.rounds):
        for key, runner in runners.items():
            rounds[key].append(time_once(runner, tile))
            print(f"  {key[0]:18s} {key[1]:5s} {rounds[key][-1]:.3f} s", flush=True)
    write_report(runners, rounds, args)


def write_report(runners, rounds, args) -> None:
    mp = args.side * args.side / 1e6
    base = statistics.median(rounds[("ffdnet-color", "fp32")])
    entries = {entry.name: entry for entry in CATALOGUE}
    lines = [
        "## Model library: speed per architecture",
        "",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, CPU only. "
        f"Command: `python benchmarks/bench_models.py --side {args.side} --rounds {args.rounds}`. Each model at its "
        "published size with random weights (speed does not depend on weight values), through the engine's own "
        f"path; a {args.side}x{args.side} tile, median of {args.rounds} rounds taken in turn. '24 MP photo' is model "
        "time only (no reading, automatic level, finishing or writing), with the context margins of the engine's "
        "automatic tiles. Quality cannot be measured offline (no downloads here): the published figure is quoted "
        "from the catalogue.",
        "",
        "| model | task | precision | params (M) | MP/s | x FFDNet time | 24 MP photo | published quality |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (name, precision), runner in runners.items():
        seconds = statistics.median(rounds[(name, precision)])
        params = sum(p.numel() for p in runner.model.module.parameters()) / 1e6
        photo = photo_seconds(runner.model, precision, seconds / mp)
        published = entries[name].published if name in entries else ""
        lines.append(f"| {name} | {runner.model.task} | {precision} | {params:.1f} | {mp / seconds:.3f} | "
                     f"{seconds / base:.1f} | {photo / 60:.1f} min | {published} |")
    out = HERE / "results" / "models.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
