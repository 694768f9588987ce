"""Application identifiers and well-known file IDs of the My Number card (card-protocol.md §0–§1).

A card is recognised by SELECT of these AIDs, never by its ATR (new cards bring new ATRs).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Application:
    key: str
    aid: bytes
    label: str


JPKI = Application("jpki", bytes.fromhex("D392F000260100000001"), "JPKI (公的個人認証)")
CARD_INFO = Application(
    "card_info", bytes.fromhex("D3921000310001010408"), "券面事項入力補助 (card-info input support)"
)
SURFACE = Application("card_surface", bytes.fromhex("D3921000310001010402"), "券面事項確認 (card surface)")
JUKI = Application("juki", bytes.fromhex("D3921000310001010100"), "住基 (resident registry)")

ALL = (JPKI, CARD_INFO, SURFACE, JUKI)

# ATRs seen on real cards (card-protocol.md §6), for logging, diagnostics and the simulator only.
ATR_CLASSIC = bytes.fromhex("3BE000FF8131FE4514")
ATR_NEWER = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
KNOWN_ATRS = {
    ATR_CLASSIC: "My Number card (classic contact ATR)",
    ATR_NEWER: "My Number card (newer contact ATR)",
}
