"""What a handover reports besides the card and the grant: the counter's checks, the PINs set, the documents
collected (``contract.payloads``), for the server tests that record handovers."""

from __future__ import annotations

from typing import Any

from contract.payloads import HANDOVER_CHECKS


def checks(**outcomes: str) -> dict[str, str]:
    """Every check passed, except those given (``face_visual="failed"``)."""
    return {**dict.fromkeys(HANDOVER_CHECKS, "passed"), **outcomes}


def details(**changes: Any) -> dict[str, Any]:
    """A clean counter: every check passed, the four PINs set, the notification card collected."""
    body: dict[str, Any] = {
        "checks": checks(),
        "pins_set": ["auth", "sign", "card_info", "juki"],
        "collected": {"notification_card": True, "juki_card": False, "old_card": False},
    }
    body.update(changes)
    return body


def handover_body(serial: str, handed_over_at: str, grant: str, **changes: Any) -> dict[str, Any]:
    """The body of ``POST /v1/pickups/{id}/handover``."""
    return {"card_auth_cert_serial": serial, "handed_over_at": handed_over_at, "grant": grant, **details(**changes)}
