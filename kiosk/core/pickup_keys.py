"""The message keys of the clerk's counter (``kiosk.core.flows.pickup``), in one place so the catalogs'
completeness test (``kiosk.core.messages.ALL_MESSAGE_KEYS``) sees them without importing the flow."""

from __future__ import annotations

CARD_VERIFIED, CARD_IDENTITY, BASIC4_MATCH, FACE_VISUAL, PINS_SET = (
    "card_verified", "card_identity", "basic4_match", "face_visual", "pins_set")

SIGN_IN_REFUSED = "clerk.sign_in_refused"
SIGN_IN_LIMITED = "clerk.sign_in_limited"
SERVER_UNREACHABLE = "clerk.server_unreachable"
SIGNED_OUT_IDLE = "clerk.signed_out_idle"
NOT_ALLOWED = "clerk.not_allowed"
LOOKUP_INVALID = "pickup.lookup_invalid"
PICKUP_NOT_FOUND = "pickup.not_found"
PICKUP_CLOSED = "pickup.closed"
INSERT_NEW_CARD = "pickup.insert_card"
CARD_NOT_NEW = "pickup.card_not_new"
CARD_UNREADABLE = "pickup.card_unreadable"
CARD_PULLED = "pickup.card_pulled"
OVERRIDE_NEEDED = "pickup.override_needed"
OVERRIDE_REFUSED = "pickup.override_refused"
HANDOVER_NOT_STORED = "pickup.handover_not_stored"
REASON_KEYS = {
    CARD_VERIFIED: {"failed": "pickup.reason.card_failed", "not_checked": "pickup.reason.card_not_checked"},
    CARD_IDENTITY: {"failed": "pickup.reason.other_card", "not_checked": "pickup.reason.no_serial"},
    BASIC4_MATCH: {"failed": "pickup.reason.basic4_differs", "not_checked": "pickup.reason.basic4_not_checked"},
    FACE_VISUAL: {"failed": "pickup.reason.face_differs", "not_checked": "pickup.reason.face_not_checked"},
    PINS_SET: {"failed": "pickup.reason.pins_partly_set", "not_checked": "pickup.reason.pins_not_set"},
}
PICKUP_KEYS = (SIGN_IN_REFUSED, SIGN_IN_LIMITED, SERVER_UNREACHABLE, SIGNED_OUT_IDLE, NOT_ALLOWED, LOOKUP_INVALID,
               PICKUP_NOT_FOUND, PICKUP_CLOSED, INSERT_NEW_CARD, CARD_NOT_NEW, CARD_UNREADABLE, CARD_PULLED,
               OVERRIDE_NEEDED, OVERRIDE_REFUSED, HANDOVER_NOT_STORED,
               *(key for keys in REASON_KEYS.values() for key in keys.values()))



__all__ = ["PICKUP_KEYS", "REASON_KEYS"]
