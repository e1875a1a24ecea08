#!/usr/bin/env python3
"""Writes a version into the version slot of a ward-agent / ward-update binary.

Usage: scripts/stamp-version.py IN OUT VERSION

The slot is 64 bytes in the binary's read-only data, opened by the magic
b"\\0WARD-VERSION-SLOT1:" (see crates/agent-core/src/version.rs); the rest is
the version, NUL-padded. The binary then reports VERSION (--version, its
session, its install directory) instead of the crate version it was built
with. Release engineering uses this to publish a build under a new version
without recompiling; the end-to-end tests use it to make real "N+1" builds.
"""
import re
import sys

MAGIC = b"\0WARD-VERSION-SLOT1:"
SLOT = 64
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    src, dst, version = sys.argv[1:]
    if not SEMVER.match(version) or len(version) > SLOT - len(MAGIC):
        print(f"stamp-version: {version!r} is not a semantic version that fits the slot", file=sys.stderr)
        return 2
    data = bytearray(open(src, "rb").read())
    hits = [m.start() for m in re.finditer(re.escape(MAGIC), data)]
    if len(hits) != 1:
        print(f"stamp-version: {src} has {len(hits)} version slots (expected 1)", file=sys.stderr)
        return 1
    at = hits[0] + len(MAGIC)
    data[at:hits[0] + SLOT] = version.encode().ljust(SLOT - len(MAGIC), b"\0")
    with open(dst, "wb") as f:
        f.write(data)
    import os
    os.chmod(dst, 0o755)
    return 0


if __name__ == "__main__":
    sys.exit(main())
