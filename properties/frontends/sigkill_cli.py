"""`kvcheck sigkill`: process-kill trials of any store kept in a directory."""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence

from kvcheck.crash import process_kill
from kvcheck.machine.targets import TargetError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TARGET = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvcheck sigkill",
        description="Kill a writer of a store kept in a directory with SIGKILL, again and "
        "again, and check after each kill that what the store promised durable is there.",
        epilog="exit status: 0 every trial held, 1 a trial failed (the killed directory is "
        "kept), 2 bad usage, 3 the target itself failed\n\nThe target's factory returns a "
        "kvcheck.machine.directory.DirectoryStore; shipped: kvcheck.adapters.stdlib:sqlite, "
        ":dbm_dumb, :shelve_dumb.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--target", required=True, metavar="MODULE:FACTORY")
    parser.add_argument("--trials", type=int, default=100, help="kills (default 100)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill delays")
    parser.add_argument(
        "--delay-max",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="longest wait before a kill, once the writer is writing (default 0.5)",
    )
    parser.add_argument(
        "--keep",
        default="kvcheck-sigkill-failure",
        metavar="DIR",
        help="where a failing trial's killed directory is copied (default %(default)s)",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    """Entry point of `kvcheck sigkill`."""
    args = _parser().parse_args(argv)
    if args.trials < 1 or args.delay_max < 0:
        print("kvcheck sigkill: error: --trials must be positive, --delay-max not negative",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kvcheck-sigkill-") as scratch:
        path = os.path.join(scratch, "data")
        try:
            trials = process_kill.run(args.target, path, args.trials, seed, args.delay_max)
        except TargetError as err:
            print(f"kvcheck sigkill: target failed: {err}", file=sys.stderr)
            return EXIT_TARGET
        except ValueError as err:
            print(f"kvcheck sigkill: error: {err}", file=sys.stderr)
            return EXIT_USAGE
        kept = None
        if trials.failure is not None and os.path.exists(path):
            kept = process_kill.keep(path, args.keep)
    seconds = time.monotonic() - began
    counts = ", ".join(f"{trials.outcomes[o]} {o}" for o in process_kill.OUTCOMES)
    print(f"kvcheck sigkill: {args.target}, seed {seed}: {trials.kills} kills in "
          f"{seconds:.1f}s, {trials.acknowledged} operations acknowledged durable")  # fmt: skip
    print(f"  outcomes: {counts}")
    if trials.failure is None:
        print("  held: every acknowledged operation was there after every kill")
        return EXIT_OK
    print(f"\nFAILED: {trials.failure}")
    if kept is not None:
        print(f"the killed directory is kept in {kept}: open it with the store to look")
    print(f"operation i is kvcheck.crash.process_kill.operation(i); the trials stopped at "
          f"operation {trials.done} recovered.\nrerun: kvcheck sigkill --target {args.target} "
          f"--seed {seed} (kill times vary from run to run)")  # fmt: skip
    return EXIT_FAILED
