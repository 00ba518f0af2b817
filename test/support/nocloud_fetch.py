#!/usr/bin/python3
"""Reads a NoCloud seed the way cloud-init itself does and prints what it got as JSON.

Run with the system Python that has Debian's cloud-init installed (/usr/bin/python3, module
`cloudinit`); a pyenv/venv python will not find the module.

    nocloud_fetch.py BASE_URL_ENDING_WITH_SLASH
    -> {"meta-data": {...}, "user-data": "...", "vendor-data": "..." | null}

BASE may also be a local directory path ending in '/', which cloud-init reads as files.
Exit status: 0 on success, 2 on usage errors, 1 when cloud-init could not read the seed.
"""
import inspect
import json
import logging
import sys


def _text(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def main(argv):
    if len(argv) != 2 or not argv[1].endswith("/"):
        print("usage: nocloud_fetch.py BASE_URL/  (must end with '/')", file=sys.stderr)
        return 2
    base = argv[1]
    # cloud-init logs retries and warnings; keep stdout pure JSON.
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    from cloudinit import util

    kwargs = {"base": base, "timeout": 5, "retries": 2}
    accepted = inspect.signature(util.read_seeded).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    try:
        md, ud, vd = util.read_seeded(**kwargs)
    except Exception as exc:  # UrlError and friends: report, do not dump a traceback
        print("cloud-init read_seeded failed: %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        return 1
    if md is None or ud is None:
        print("cloud-init read_seeded returned no %s" % ("meta-data" if md is None else "user-data"), file=sys.stderr)
        return 1
    json.dump({"meta-data": md, "user-data": _text(ud), "vendor-data": _text(vd)}, sys.stdout, default=str)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
