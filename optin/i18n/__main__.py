"""``python -m optin.i18n sync``: add new strings of messages.py to the .po files."""

from __future__ import annotations

import sys

from optin.i18n.languages import DEFAULT
from optin.i18n.sync import sync


def main(argv: list[str]) -> int:
    if argv != ["sync"]:
        print("usage: python -m optin.i18n sync", file=sys.stderr)
        return 2
    for report in sync():
        todo = "" if report.lang == DEFAULT else " (translate it)"
        for msgid in report.added:
            print(f"{report.lang}: added{todo}: {msgid}")
        for msgid in report.removed:
            print(f"{report.lang}: removed: {msgid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
