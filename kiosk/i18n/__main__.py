"""``python -m kiosk.i18n``: compile every catalog to .mo (a build step; run time can do without it)."""

from __future__ import annotations

import sys

from kiosk.i18n import compile_catalogs


def main() -> int:
    for path in compile_catalogs():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
