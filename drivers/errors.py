"""One hierarchy of typed errors for everything that touches a card.

Every error carries a stable machine-readable ``code`` (the UI maps codes to translated messages) and an
English ``str()`` meant for logs and operators. No error ever carries PIN bytes or personal data.
"""

from __future__ import annotations


class CardError(Exception):
    """Base of every error raised by ``drivers``."""

    code = "card_error"


# --- transport: the path to the card -------------------------------------------------------------


class TransportError(CardError):
    """The card could not be reached; no command reached the card or its answer was lost."""

    code = "transport_error"


class ServiceUnavailable(TransportError):
    """The PC/SC service (pcscd) is not running or not reachable."""

    code = "service_unavailable"


class NoReader(TransportError):
    """No card reader is connected, or the named one is gone."""

    code = "no_reader"


class NoCard(TransportError):
    """The reader is there but holds no card."""

    code = "no_card"


class CardRemoved(TransportError):
    """The card was taken out (or lost power) while it was in use."""

    code = "card_removed"


class ReaderTimeout(TransportError):
    """The reader or the card did not answer in time."""

    code = "reader_timeout"


class ReaderError(TransportError):
    """Any other reader failure; the message says which PC/SC code was seen."""

    code = "reader_error"


# --- protocol: the card answered, but not what the command needs ---------------------------------


class ProtocolError(CardError):
    """The card's answer is malformed (too short, bad TLV, wrong size)."""

    code = "protocol_error"


class TlvError(ProtocolError):
    """BER-TLV data that cannot be parsed safely (truncated, hostile or unsupported length)."""

    code = "tlv_error"


class StatusWordError(CardError):
    """The card answered with a status word other than 90 00."""

    code = "status_word"
    sw: int

    def __init__(self, sw: int, message: str | None = None) -> None:
        self.sw = sw
        super().__init__(f"{message or self.__doc__.strip().splitlines()[0]} (SW={sw:04X})")


class WrongLength(StatusWordError):
    """Wrong length (Lc or Le)."""

    code = "wrong_length"


class SecurityStatusNotSatisfied(StatusWordError):
    """Security status not satisfied: a PIN must be verified first."""

    code = "security_status"


class AuthenticationBlocked(StatusWordError):
    """The PIN is blocked; only the municipal office can reset it."""

    code = "pin_blocked"


class ConditionsNotSatisfied(StatusWordError):
    """Conditions of use not satisfied."""

    code = "conditions_not_satisfied"


class CommandNotAllowed(StatusWordError):
    """Command not allowed (no current EF of the right kind)."""

    code = "command_not_allowed"


class IncorrectData(StatusWordError):
    """Incorrect parameters in the data field."""

    code = "incorrect_data"


class FileNotFound(StatusWordError):
    """File or application not found."""

    code = "file_not_found"


class ReferenceNotFound(StatusWordError):
    """Referenced data not found (for example a PIN that was never set)."""

    code = "reference_not_found"


class IncorrectParameters(StatusWordError):
    """Incorrect parameters P1-P2."""

    code = "incorrect_parameters"


class OffsetOutOfRange(StatusWordError):
    """Offset outside the EF."""

    code = "offset_out_of_range"


class InsNotSupported(StatusWordError):
    """Instruction not supported."""

    code = "ins_not_supported"


class ClaNotSupported(StatusWordError):
    """Class not supported."""

    code = "cla_not_supported"


class WrongPin(StatusWordError):
    """Wrong PIN."""

    code = "wrong_pin"

    def __init__(self, sw: int, remaining: int, pin_name: str | None = None) -> None:
        self.remaining = remaining
        self.pin_name = pin_name  # set by the application layer, which knows which PIN it was
        super().__init__(sw, f"Wrong PIN, {remaining} tries left")


class UnexpectedStatus(StatusWordError):
    """The card answered with an unexpected status word."""

    code = "unexpected_status"


# --- domain: what the My Number applications add ---------------------------------------------------

PinBlocked = AuthenticationBlocked


class PinFormatInvalid(CardError):
    """The PIN does not have the shape the card expects; refused before any APDU (no try spent)."""

    code = "pin_format"

    def __init__(self, pin_name: str, expected: str) -> None:
        self.pin_name = pin_name
        self.expected = expected
        super().__init__(f"the {pin_name} PIN must be {expected}; nothing was sent to the card")


class PinGuardRefused(CardError):
    """The PIN policy refused to spend a try (e.g. the last one at an unattended kiosk)."""

    code = "pin_guard"

    def __init__(self, pin_name: str, remaining: int, reason: str) -> None:
        self.pin_name = pin_name
        self.remaining = remaining
        self.reason = reason
        super().__init__(f"not trying the {pin_name} PIN: {remaining} tries left ({reason})")


class PinNotSet(CardError):
    """The PIN has no value yet (a new card in its issuance state): nothing to verify, no try spent."""

    code = "pin_not_set"

    def __init__(self, pin_name: str) -> None:
        self.pin_name = pin_name
        super().__init__(f"the {pin_name} PIN is not set yet on this card (new card); nothing was sent")


class IssuanceRefused(CardError):
    """Setting initial PINs was refused before any PIN reached the card (e.g. a PIN is already set)."""

    code = "issuance_refused"

    def __init__(self, reason: str, pin_name: str | None = None) -> None:
        self.reason = reason  # stable: "already_set", "no_sign_pin_on_card", "not_on_card", "blocked"
        self.pin_name = pin_name
        where = f" ({pin_name} PIN)" if pin_name else ""
        super().__init__(f"initial PINs not set: {reason}{where}; no PIN was sent to the card")


class CertificateRefused(CardError):
    """The card's auth certificate already failed (untrusted, expired, broken): no PIN is sent to it."""

    code = "certificate_refused"


class NotAMyNumberCard(CardError):
    """The card does not answer the My Number applications (recognised by SELECT, never by ATR)."""

    code = "not_my_number_card"


class NoSignCertificate(CardError):
    """The card carries no signing certificate (e.g. a resident under 15)."""

    code = "no_sign_certificate"
