"""The 申請書ID (application form id): 23 half-width digits, printed and QR-coded on the form.

Source: workflows-and-peers.md C.1 ("申請書ID (23 half-width digits)"). Whether the last digit is a check
digit is UNCONFIRMED — no public source gives a rule — so none is checked: inventing one would refuse real
forms. Anything but exactly 23 ASCII digits is refused (full-width digits included: a QR code and the
on-screen pad both give ASCII, and a normalising step here would hide a bug elsewhere).
"""

from __future__ import annotations

APPLICATION_ID_LENGTH = 23
# For schemas (OpenAPI / JSON Schema, ECMA-262 regex: "$" is the end of the text, and the published schema
# also carries minLength = maxLength = 23). Never apply it with Python's ``re.match``/``re.search``: there "$"
# also matches before a final newline, so "<23 digits>\n" would pass. Use ``check_application_id``, which
# looks at the whole string (length, then every character).
APPLICATION_ID_PATTERN = rf"^[0-9]{{{APPLICATION_ID_LENGTH}}}$"
APPLICATION_ID_DESCRIPTION = f"The 申請書ID: exactly {APPLICATION_ID_LENGTH} ASCII digits."
_DIGITS = frozenset("0123456789")


class InvalidApplicationId(ValueError):
    """The value is not a 申請書ID. The message never repeats the value (it identifies a resident)."""


def check_application_id(value: object) -> str:
    """Return ``value`` if it is a 申請書ID, else raise ``InvalidApplicationId`` saying what is wrong."""
    if not isinstance(value, str):
        raise InvalidApplicationId(
            f"must be exactly {APPLICATION_ID_LENGTH} ASCII digits (the 申請書ID printed on the application "
            f"form); got {type(value).__name__}, not text"
        )
    if len(value) != APPLICATION_ID_LENGTH or not _DIGITS.issuperset(value):
        found = f"{len(value)} characters" + ("" if _DIGITS.issuperset(value) else ", not all of them 0-9")
        raise InvalidApplicationId(
            f"must be exactly {APPLICATION_ID_LENGTH} ASCII digits (the 申請書ID printed on the application "
            f"form); got {found}"
        )
    return value


def is_application_id(value: object) -> bool:
    try:
        check_application_id(value)
    except InvalidApplicationId:
        return False
    return True
