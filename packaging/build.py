"""Build the standalone bundle: dist/photomend/ and dist/photomend-<version>-<os>-<arch>.tar.gz.

    .venv/bin/pip install -e ".[package]"
    .venv/bin/python packaging/build.py [--no-archive] [--skip-self-test] [--no-strip]

Runs PyInstaller on packaging/photomend.spec, strips the symbol tables of torch's own libraries
(libtorch_cpu.so ships unstripped: 415 -> 330 MiB), runs the bundle's `--self-test`, packs the
folder into a tar.gz and prints how long the build took and how big the folder and the archive are.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
BUNDLE = DIST / "photomend"
WORK = ROOT / "build" / "pyinstaller"


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def build() -> None:
    subprocess.run([sys.executable, "-m", "PyInstaller", str(ROOT / "packaging" / "photomend.spec"), "--noconfirm",
                    "--distpath", str(DIST), "--workpath", str(WORK)], cwd=ROOT, check=True)


def strip_torch() -> None:
    """strip --strip-unneeded on torch/lib/libtorch*.so only: the other libraries come stripped, and
    PyInstaller's strip=True on every file risks breaking patchelf-edited wheel libraries."""
    if shutil.which("strip") is None:
        print("strip not found: skipping (the bundle is ~85 MiB larger)")
        return
    for lib in sorted((BUNDLE / "_internal" / "torch" / "lib").glob("libtorch*.so")):
        subprocess.run(["strip", "--strip-unneeded", str(lib)], check=True)


def self_test() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    subprocess.run([str(BUNDLE / "photomend"), "--self-test"], cwd=DIST, env=env, check=True)


def archive() -> Path:
    from app import __version__

    target = DIST / f"photomend-{__version__}-{platform.system().lower()}-{platform.machine()}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        tar.add(BUNDLE, arcname="photomend")
    return target


def warn_if_model_files_cannot_load() -> None:
    """Say before building when this venv's torchvision cannot load (the bundle would refuse model files).

    Why: pip's default torchvision is built for the CUDA torch; next to a CPU torch it does not load,
    and only a torchvision from the same index as torch does (the bundle still runs the built-in model).
    """
    from models.library import ModelWeightsError, spandrel_adapter

    try:
        spandrel_adapter()
    except ModelWeightsError as error:
        print(f"warning: the bundle will refuse model files: {error}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-archive", action="store_true", help="build the folder only")
    parser.add_argument("--skip-self-test", action="store_true", help="do not run the bundle's --self-test")
    parser.add_argument("--no-strip", action="store_true", help="keep torch's symbol tables")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    warn_if_model_files_cannot_load()
    started = time.perf_counter()
    build()
    if not args.no_strip:
        strip_torch()
    seconds = time.perf_counter() - started
    print(f"\nbuilt {BUNDLE} in {seconds / 60:.1f} min; folder {mib(folder_size(BUNDLE))}")
    if not args.skip_self_test:
        self_test()
    if not args.no_archive:
        started = time.perf_counter()
        target = archive()
        print(f"archive {target} {mib(target.stat().st_size)} ({time.perf_counter() - started:.0f} s to pack)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
