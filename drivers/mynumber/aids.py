"""Application identifiers and well-known file IDs of the My Number card (card-protocol.md §0–§1).

A card is recognised by SELECT of these AIDs, never by its ATR (new cards bring new ATRs).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.pinformat import PinFormat


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


@dataclass(frozen=True, slots=True)
class PinRef:
    """Where a PIN lives and what it looks like (card-protocol.md §1, §1.6)."""

    key: str
    application: Application
    fid: int
    format: PinFormat
    maximum: int
    label: str


# Tries for PIN A / PIN B / birth PIN (10) and for the 住基 PIN (3) are UNCONFIRMED (single sources).
AUTH_PIN = PinRef("auth", JPKI, 0x0018, PinFormat.DIGITS4, 3, "利用者証明用電子証明書 暗証番号 (auth PIN)")
SIGN_PIN = PinRef("sign", JPKI, 0x001B, PinFormat.SIGN, 5, "署名用電子証明書 暗証番号 (sign password)")
CARD_INFO_PIN = PinRef(
    "card_info", CARD_INFO, 0x0011, PinFormat.DIGITS4, 3, "券面事項入力補助用 暗証番号 (card-info PIN)"
)
CARD_INFO_PIN_A = PinRef("card_info_pin_a", CARD_INFO, 0x0014, PinFormat.DIGITS12, 10, "照合番号A")
CARD_INFO_PIN_B = PinRef("card_info_pin_b", CARD_INFO, 0x0015, PinFormat.DIGITS14, 10, "照合番号B")
SURFACE_PIN_A = PinRef("surface_pin_a", SURFACE, 0x0013, PinFormat.DIGITS12, 10, "照合番号A (card surface)")
SURFACE_PIN_B = PinRef("surface_pin_b", SURFACE, 0x0012, PinFormat.DIGITS14, 10, "照合番号B (card surface)")
JUKI_PIN = PinRef("juki", JUKI, 0x001C, PinFormat.DIGITS4, 3, "住民基本台帳用 暗証番号 (住基 PIN)")

# The four PINs a resident sets at pickup, in the order the counter asks for them.
RESIDENT_PINS = (SIGN_PIN, AUTH_PIN, JUKI_PIN, CARD_INFO_PIN)
ALL_PINS = (AUTH_PIN, SIGN_PIN, CARD_INFO_PIN, CARD_INFO_PIN_A, CARD_INFO_PIN_B, SURFACE_PIN_A, SURFACE_PIN_B,
            JUKI_PIN)

# JPKI EFs (card-protocol.md §1.1)
EF_TOKEN, EF_AUTH_CERT, EF_AUTH_CA, EF_SIGN_CERT, EF_SIGN_CA = 0x0006, 0x000A, 0x000B, 0x0001, 0x0002
EF_AUTH_KEY, EF_SIGN_KEY = 0x0017, 0x001A
# card-info input support EFs (§1.2)
EF_MY_NUMBER, EF_BASIC4, EF_INTEGRITY, EF_CV_CERT = 0x0001, 0x0002, 0x0003, 0x0004
MY_NUMBER_EF_SIZE, INTEGRITY_EF_SIZE, CV_CERT_EF_SIZE = 17, 336, 568
# card surface EFs (§1.3)
EF_SURFACE_ENTRIES = 0x0002
