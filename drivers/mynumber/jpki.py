"""The JPKI application (公的個人認証AP): certificates, PIN status, signing, PIN change."""

from __future__ import annotations

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.base import CardApplication, PinInput
from drivers.mynumber.session import PinStatus

TOKEN_MY_NUMBER_CARD = "JPKIAPICCTOKEN2"  # noqa: S105 - a file marker, not a secret; "JPKIAPICCTOKEN" = old 住基カード, "JPKIAPGPSETOKEN" = smartphone


class JpkiAp(CardApplication):
    info = aids.JPKI

    def read_token(self) -> str:
        """The token EF names the kind of JPKI holder; a My Number card says JPKIAPICCTOKEN2."""
        self.select()
        return self.session.read_exact(aids.EF_TOKEN, 32).rstrip(b"\x00 ").decode("ascii", "replace")

    def read_auth_certificate(self) -> bytes:
        """利用者証明用電子証明書 (DER): free to read, holds no personal data."""
        return self._read_certificate(aids.EF_AUTH_CERT)

    def read_auth_ca_certificate(self) -> bytes:
        return self._read_certificate(aids.EF_AUTH_CA)

    def read_sign_ca_certificate(self) -> bytes:
        return self._read_certificate(aids.EF_SIGN_CA)

    def read_sign_certificate(self, sign_pin: PinInput, *, confirm_last_try: bool = False) -> bytes:
        """署名用電子証明書: holds the basic 4 information, so the card wants the sign password first."""
        self._verify_sign_pin(sign_pin, confirm_last_try)
        return self._read_certificate(aids.EF_SIGN_CERT)

    def _verify_sign_pin(self, sign_pin: PinInput, confirm_last_try: bool) -> None:
        try:
            self.verify(aids.SIGN_PIN, sign_pin, confirm_last_try=confirm_last_try)
        except errors.ReferenceNotFound as exc:  # a sign password never set: a card without a sign certificate
            raise errors.NoSignCertificate("the card has no signing certificate (no sign password set)") from exc

    def _read_certificate(self, fid: int) -> bytes:
        self.select()
        der = self.session.read_tlv_ef(fid)
        if not der:
            if fid in (aids.EF_SIGN_CERT, aids.EF_SIGN_CA):
                raise errors.NoSignCertificate("the card has no signing certificate")
            raise errors.ProtocolError(f"certificate EF {fid:04X} is empty")
        return der

    def auth_pin_status(self) -> PinStatus:
        return self.pin_status(aids.AUTH_PIN)

    def sign_pin_status(self) -> PinStatus:
        return self.pin_status(aids.SIGN_PIN)

    def sign_with_auth_key(
        self, digest_info: bytes, auth_pin: PinInput, *, confirm_last_try: bool = False
    ) -> bytes:
        """Sign a DigestInfo with the user-authentication key (proof that the chip holds it)."""
        self.verify(aids.AUTH_PIN, auth_pin, confirm_last_try=confirm_last_try)
        return self.session.sign(aids.EF_AUTH_KEY, digest_info)

    def sign_with_sign_key(
        self, digest_info: bytes, sign_pin: PinInput, *, confirm_last_try: bool = False
    ) -> bytes:
        self._verify_sign_pin(sign_pin, confirm_last_try)
        return self.session.sign(aids.EF_SIGN_KEY, digest_info)
