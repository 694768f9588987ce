"""The message keys of the PIN services (``kiosk.core.flows.pin_services``), in one place so the catalogs'
completeness test (``kiosk.core.messages.ALL_MESSAGE_KEYS``) sees them without importing the flow.

Arguments are impersonal: ``{pin}`` / ``{other}`` are PIN names (auth | sign | card_info | juki, or
"common" for the three 4-digit PINs at once), ``{remaining}`` a count. The comment says what each means.
"""

from __future__ import annotations

MENU = "pin_service.menu"  # "Your card's PINs: tries left; change a PIN, or see what to do for a locked one"
READING = "pin_service.reading"  # "Reading your PINs' tries (no try is used)"
ENTER_CURRENT = "pin_service.enter_current"  # {pin}: "Enter your current {pin} PIN"
ENTER_NEW = "pin_service.enter_new"  # {pin}: "Choose the new {pin} PIN" (then input.again for the second time)
RULE_DIGITS4 = "pin_service.rule.digits4"  # "4 digits"
RULE_SIGN = "pin_service.rule.sign"  # "6 to 16 characters, letters A–Z and digits 0–9, at least one of each"
COMMON_EXPLAINED = "pin_service.common"  # "One new 4-digit PIN for the auth, card-info and 住基 PINs"
SAME_AS_CURRENT = "pin_service.same_as_current"  # "That is your current PIN: choose a different one"
NOT_CHANGEABLE = "pin_service.not_changeable"  # {pin}: "This PIN cannot be changed here" (none on the card)
WORKING = "pin_service.working"  # "Changing your PIN: keep the card on the reader"

# One line per PIN on the result screen.
OUTCOME_CHANGED = "pin_service.outcome.changed"  # "Changed: use the new PIN from now on"
OUTCOME_NOT_CHANGED = "pin_service.outcome.not_changed"  # "Not changed: your current PIN still works"
OUTCOME_UNKNOWN = "pin_service.outcome.unknown"  # "Not known: the card left while it was being changed.
#   Try the new PIN first, then the old one — or ask at the counter" (never shown as a success)
OUTCOME_NOT_ATTEMPTED = "pin_service.outcome.not_attempted"  # "Not reached: your current PIN still works"
OUTCOME_KEYS = {"changed": OUTCOME_CHANGED, "not_changed": OUTCOME_NOT_CHANGED, "unknown": OUTCOME_UNKNOWN,
                "not_attempted": OUTCOME_NOT_ATTEMPTED}
REASON_WRONG_PIN = "pin_service.reason.wrong_pin"  # {remaining}: "The current PIN was wrong; {remaining} tries
#   left here"
REASON_CARD_REMOVED = "pin_service.reason.card_removed"  # "The card was taken off the reader"
REASON_REFUSED = "pin_service.reason.refused"  # "The card did not accept the new PIN"
REASON_LAST_TRY = "pin_service.reason.last_try"  # "Only one try is left: that one is kept for the counter"
REASON_BLOCKED = "pin_service.reason.blocked"  # "This PIN is locked"
REASON_TIMEOUT = "pin_service.reason.timeout"  # "The card did not answer in time"
REASON_READER = "pin_service.reason.reader"  # "The reader failed"
REASON_NOT_CONFIRMED = "pin_service.reason.not_confirmed"  # "Changed; the tries could not be read again"

# The result's first sentence.
RESULT_ALL_CHANGED = "pin_service.result.all_changed"  # "Your new PIN is set"
RESULT_PARTLY = "pin_service.result.partly"  # "Some PINs were changed and some not: see each line"
RESULT_NONE = "pin_service.result.none"  # "Nothing was changed: your current PINs still work"
RESULT_UNKNOWN = "pin_service.result.unknown"  # "We cannot tell whether one change was made: see the line"
RESULT_CARD_REMOVED = "pin_service.result.card_removed"  # "The card was taken off; this is what happened"

# A locked PIN: where it can be reset (never at this kiosk) and what to bring — the slip.
NO_RESET_HERE = "pin_service.reset.not_here"  # "A locked PIN cannot be reset at this kiosk"
RESET_STORE_AUTH = "pin_service.reset.store_auth"  # {other}: "Reset the auth PIN at a convenience store with
#   the JPKI PIN reset service (7-Eleven, AEON …): reserve in the app with a face check, then within 24 hours
#   use the store terminal; you need your {other} PIN. Not for an expired certificate"
RESET_STORE_SIGN = "pin_service.reset.store_sign"  # {other}: the same for the sign PIN (7-Eleven, Lawson,
#   FamilyMart, Ministop …); you need your {other} PIN
RESET_COUNTER = "pin_service.reset.counter"  # {pin}: "This PIN can be reset only at the city office counter"
RESET_COUNTER_BOTH_JPKI = "pin_service.reset.counter_both_jpki"  # {pin}: "Both certificate PINs are locked (or
#   one is missing): only the counter can reset them"
RESET_LAST_TRY = "pin_service.reset.last_try"  # {pin}: "One try left: use it at the counter with a clerk, or
#   have the PIN reset there"
BRING_CARD = "pin_service.bring.card"  # "Your My Number card"
BRING_ID = "pin_service.bring.id_document"  # "An identity document if your city asks for one"
BRING_REPRESENTATIVE = "pin_service.bring.representative"  # "Under 15: come with your legal representative"
BRING_PROXY = "pin_service.bring.proxy"  # "Someone going for you: two visits, with a letter mailed in between"
BRING_APP = "pin_service.bring.app"  # "A smartphone with the JPKI PIN reset app (reserved beforehand)"
BRING_OTHER_PIN = "pin_service.bring.other_pin"  # {other}: "Your {other} PIN"
SLIP_TITLE = "pin_service.slip.title"  # "Resetting a locked PIN: where and what to bring"

PIN_SERVICE_KEYS = (
    MENU, READING, ENTER_CURRENT, ENTER_NEW, RULE_DIGITS4, RULE_SIGN, COMMON_EXPLAINED, SAME_AS_CURRENT,
    NOT_CHANGEABLE, WORKING, *OUTCOME_KEYS.values(), REASON_WRONG_PIN, REASON_CARD_REMOVED, REASON_REFUSED,
    REASON_LAST_TRY, REASON_BLOCKED, REASON_TIMEOUT, REASON_READER, REASON_NOT_CONFIRMED, RESULT_ALL_CHANGED,
    RESULT_PARTLY, RESULT_NONE, RESULT_UNKNOWN, RESULT_CARD_REMOVED, NO_RESET_HERE, RESET_STORE_AUTH,
    RESET_STORE_SIGN, RESET_COUNTER, RESET_COUNTER_BOTH_JPKI, RESET_LAST_TRY, BRING_CARD, BRING_ID,
    BRING_REPRESENTATIVE, BRING_PROXY, BRING_APP, BRING_OTHER_PIN, SLIP_TITLE,
)

__all__ = ["OUTCOME_KEYS", "PIN_SERVICE_KEYS"]
