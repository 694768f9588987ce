"""The message keys of the application and the status lookup (the words are in the gettext catalogs).

A leaf module of plain constants, outside the flow package, so that ``kiosk.core.messages.ALL_MESSAGE_KEYS``
can include them without an import cycle.
"""

from __future__ import annotations

from contract.photo import FIX_KEYS as PHOTO_FIX_KEYS  # photo.fix.<check>: one list, the photo rules' own

ID_SCAN_TITLE = "id.scan.title"  # show the form's QR code to the camera
ID_SCAN_HINT = "id.scan.hint"  # or use the barcode scanner, or type it
ID_KEYPAD_TITLE = "id.keypad.title"
ID_CONFIRM_TITLE = "id.confirm.title"
ID_FROM_QR = "id.confirm.from_qr"  # read from the QR code: cannot be changed here
ID_NOT_AN_ID = "id.error.not_an_id"  # a code was read, but it is not an application ID
ID_WRONG_LENGTH = "id.error.wrong_length"  # {count}: typed digits
STATUS_SCAN_TITLE = "status.scan.title"

PHOTO_TITLE = "photo.title"
PHOTO_HINT = "photo.hint"
PHOTO_HOLD_STILL = "photo.hold_still"  # during the countdown
PHOTO_NO_CAMERA = "photo.no_camera"
PHOTO_PASSED = "photo.review.passed"
PHOTO_FAILED = "photo.review.failed"

DETAILS_TITLE = "details.apply.title"
EMAIL_INVALID = "details.apply.email_invalid"
EMAIL_TITLE = "details.apply.email"
BRAILLE_TITLE = "details.apply.braille"

REVIEW_TITLE = "review.title"
REVIEW_CONSENT_NEEDED = "review.consent_needed"

WORKING_SAVING = "working.saving"
WORKING_PHOTO = "working.photo"
WORKING_STATUS = "working.status"
WORKING_PREPARING = "working.preparing"  # the kiosk checks it can take an application

CANNOT_ACCEPT = "apply.cannot_accept"  # the kiosk cannot store an application now: ask staff
SAVE_FAILED = "apply.save_failed"

RECEIPT_QUEUED = "receipt.state.queued"
RECEIPT_DELIVERED = "receipt.state.delivered"
RECEIPT_REFUSED = "receipt.state.refused"
RECEIPT_PRINT = "receipt.print"  # the button
RECEIPT_PRINTING = "receipt.printing"
RECEIPT_PRINTED = "receipt.printed"
RECEIPT_PRINT_FAILED = "receipt.print_failed"  # the number on screen is enough; staff can print it
# the printed slip (kiosk.services.receipt_printer.SLIP_KEYS must be these: a test holds them together)
SLIP_KEYS = ("receipt.slip.reference", "receipt.slip.state.queued", "receipt.slip.state.delivered",
             "receipt.slip.issued", "receipt.slip.kiosk", "receipt.slip.keep")

STATUS_KEYS = {
    "received": "status.received",
    "in_production": "status.in_production",
    "ready_for_pickup": "status.ready_for_pickup",
    "picked_up": "status.picked_up",
    "refused": "status.refused",
    "unknown": "status.unknown",
}
STATUS_UNREACHABLE = "status.unreachable"
STATUS_RATE_LIMITED = "status.rate_limited"  # too many lookups from this kiosk: later, or at the counter

RENEWAL_TITLE = "renewal.check.title"
RENEWAL_STATUS_KEYS = {
    "eligible": "renewal.check.eligible",  # {expires}
    "not_yet": "renewal.check.not_yet",  # {opens} {expires}
    "expired": "renewal.check.expired",
    "not_genuine": "renewal.check.not_genuine",
    # the chain stopped at a J-LIS CA this kiosk lacks, or an issuer it does not know: not a forgery
    "unknown_ca_generation": "result.headline.unknown_ca_generation",
    "issuer_unknown": "result.headline.issuer_unknown",
}
RENEWAL_PIN = "renewal.pin"  # the pad's prompt: the auth PIN signs the application
RENEWAL_OFFLINE = "renewal.offline"  # no nonce: renewal by card needs the central server right now
RENEWAL_KEEP_CARD = "renewal.keep_card"  # on the photo and details screens: leave the card on the reader

ALL_KEYS: frozenset[str] = frozenset({
    ID_SCAN_TITLE, ID_SCAN_HINT, ID_KEYPAD_TITLE, ID_CONFIRM_TITLE, ID_FROM_QR, ID_NOT_AN_ID, ID_WRONG_LENGTH,
    STATUS_SCAN_TITLE, PHOTO_TITLE, PHOTO_HINT, PHOTO_HOLD_STILL, PHOTO_NO_CAMERA, PHOTO_PASSED, PHOTO_FAILED,
    DETAILS_TITLE, EMAIL_INVALID, EMAIL_TITLE, BRAILLE_TITLE, REVIEW_TITLE, REVIEW_CONSENT_NEEDED,
    WORKING_SAVING, WORKING_PHOTO, WORKING_STATUS, WORKING_PREPARING, STATUS_RATE_LIMITED, CANNOT_ACCEPT, SAVE_FAILED,
    RECEIPT_QUEUED, RECEIPT_DELIVERED, RECEIPT_REFUSED, RECEIPT_PRINT, RECEIPT_PRINTING, RECEIPT_PRINTED,
    RECEIPT_PRINT_FAILED, *SLIP_KEYS, RENEWAL_TITLE, *RENEWAL_STATUS_KEYS.values(), RENEWAL_PIN, RENEWAL_OFFLINE,
    RENEWAL_KEEP_CARD, *STATUS_KEYS.values(), STATUS_UNREACHABLE, *PHOTO_FIX_KEYS,
})
