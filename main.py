"""Start Photomend: `python main.py [FILE]` opens the window; `python main.py denoise ...` is the CLI."""

import sys

from app.cli.main import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 1 and not args[0].startswith("-") and args[0] not in ("denoise", "deblur", "kernel", "info", "gui"):
        args = ["gui", args[0]]
    sys.exit(main(args))
