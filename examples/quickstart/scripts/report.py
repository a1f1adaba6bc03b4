#!/usr/bin/env python3
"""Prints the plain environment values the quickstart environment sets."""
import os
import platform
import sys


def main() -> int:
    print(f"python {platform.python_version()} on {platform.system()}")
    names = sorted(k for k in os.environ if k.startswith("QUICKSTART_"))
    if not names:
        print("no QUICKSTART_* variables set (run it through semaphored)")
        return 0
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}} = {os.environ[name]}")
    print(f"{len(names)} variable(s) reported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
