"""CRL import (signature checked against the configured CA) and good / revoked / unknown answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy.orm import Session

from contract.crl import ca_key_id
from drivers.sim.pki import CertificateAuthority, certificate_authority, make_crl
from server.cli import main as cli_main
from server.db import make_engine, make_session_factory, upgrade_to_head
from server.revocation import CrlRejected, certificate_status, import_crl
from tests.server.helpers import LiveServer

pytestmark = pytest.mark.server

AUTH_G2 = certificate_authority("auth", "g2")
AUTH_G1 = certificate_authority("auth", "g1")
REVOKED = 0x5A5A5A5A01
GOOD = 0x5A5A5A5A02


def _pem(ca: CertificateAuthority) -> bytes:
    return ca.certificate.public_bytes(serialization.Encoding.PEM)


def _key_id(ca: CertificateAuthority) -> str:
    return ca_key_id(ca.certificate).hex()


def crl_with_reason(ca: CertificateAuthority, serial: int, *, this_update: datetime, number: int) -> bytes:
    """A CRL whose one entry carries a reason code (make_crl writes none)."""
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    entry = (
        x509.RevokedCertificateBuilder()
        .serial_number(serial)
        .revocation_date(this_update - timedelta(hours=2))
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=1))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .add_revoked_certificate(entry)
        .sign(ca.key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'crl.db'}")
    upgrade_to_head(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_import_and_answers(session: Session) -> None:
    now = datetime.now(UTC)
    crl = make_crl(AUTH_G2, [REVOKED, 77], this_update=now - timedelta(hours=1), crl_number=3)
    result = import_crl(session, crl, _pem(AUTH_G2), now=now)
    session.commit()
    assert result.revoked_count == 2
    assert result.issuer_key_id == _key_id(AUTH_G2)

    def status(serial: str, ca: CertificateAuthority = AUTH_G2, **kw: object) -> str:
        answer = certificate_status(
            session, issuer_key_id=_key_id(ca), serial=serial, issuer_dn=kw.get("dn"), now=kw.get("now", now)
        )
        return answer.status

    assert status(format(REVOKED, "X")) == "revoked"
    assert status("00" + format(REVOKED, "x")) == "revoked"
    assert status(format(GOOD, "x")) == "good"
    assert status(format(GOOD, "x"), AUTH_G1) == "unknown"  # same DN, other key: no CRL for that issuer
    assert status(format(GOOD, "x"), now=now + timedelta(days=2)) == "unknown"  # past nextUpdate
    assert status(format(GOOD, "x"), dn=AUTH_G2.certificate.subject.rfc4514_string()) == "good"
    assert status(format(GOOD, "x"), dn="CN=Someone Else,C=JP") == "unknown"


def test_a_crl_signed_by_another_key_is_refused(session: Session) -> None:
    now = datetime.now(UTC)
    forged = make_crl(AUTH_G1, [GOOD], this_update=now)  # same DN as g2, other key
    with pytest.raises(CrlRejected, match=r"authority key id|signature"):
        import_crl(session, forged, _pem(AUTH_G2), now=now)
    other_dn = make_crl(certificate_authority("sign", "g2"), [GOOD], this_update=now)
    with pytest.raises(CrlRejected, match="issuer"):
        import_crl(session, other_dn, _pem(AUTH_G2), now=now)


def test_an_older_crl_cannot_replace_a_newer_one(session: Session) -> None:
    now = datetime.now(UTC)
    import_crl(session, make_crl(AUTH_G2, [REVOKED], this_update=now, crl_number=10), _pem(AUTH_G2), now=now)
    session.commit()
    with pytest.raises(CrlRejected, match="older"):
        import_crl(session, make_crl(AUTH_G2, [], this_update=now, crl_number=9), _pem(AUTH_G2), now=now)
    session.rollback()
    newer = make_crl(AUTH_G2, [], this_update=now, crl_number=11)  # the revocation was lifted (e.g. a hold)
    import_crl(session, newer, _pem(AUTH_G2), now=now)
    session.commit()
    answer = certificate_status(
        session, issuer_key_id=_key_id(AUTH_G2), serial=format(REVOKED, "x"), issuer_dn=None, now=now
    )
    assert answer.status == "good"


def test_garbage_is_refused(session: Session) -> None:
    now = datetime.now(UTC)
    with pytest.raises(CrlRejected, match="not a CRL"):
        import_crl(session, b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", _pem(AUTH_G2), now=now)
    with pytest.raises(CrlRejected, match="CA file"):
        import_crl(session, make_crl(AUTH_G2, [], this_update=now), b"nonsense", now=now)


def test_cli_import_then_api_answers(server: LiveServer, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    crl_file, ca_file = tmp_path / "auth.crl", tmp_path / "ca.pem"
    crl_file.write_bytes(
        crl_with_reason(AUTH_G2, REVOKED, this_update=now - timedelta(minutes=5), number=int(time.time()))
    )
    ca_file.write_bytes(_pem(AUTH_G2))
    code = cli_main(
        [
            "import-crl",
            str(crl_file),
            "--ca",
            str(ca_file),
            "--db",
            server.db_url,
            "--secret-file",
            str(server.secret_file),
        ]
    )
    assert code == 0
    session = server.session()

    def ask(serial: int, ca: CertificateAuthority = AUTH_G2) -> dict[str, str]:
        response = session.post(
            server.url("/v1/certificate-status"), json={"issuer_key_id": _key_id(ca), "serial": format(serial, "x")}
        )
        assert response.status_code == 200, response.text
        return response.json()

    revoked = ask(REVOKED)
    assert revoked["status"] == "revoked"
    assert revoked["reason"] == "key_compromise"
    assert revoked["revoked_at"].endswith("Z")
    assert revoked["crl_next_update"].endswith("Z")
    good = ask(GOOD)
    assert good["status"] == "good"
    assert "reason" not in good
    assert ask(GOOD, AUTH_G1) == {"status": "unknown"}
    server.clock.advance(timedelta(days=2))
    assert ask(GOOD)["status"] == "unknown"


def test_cli_refuses_a_crl_from_the_wrong_ca(
    server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crl_file, ca_file = tmp_path / "auth.crl", tmp_path / "ca.pem"
    crl_file.write_bytes(make_crl(AUTH_G1, [GOOD], this_update=datetime.now(UTC)))
    ca_file.write_bytes(_pem(AUTH_G2))
    code = cli_main(
        [
            "import-crl",
            str(crl_file),
            "--ca",
            str(ca_file),
            "--db",
            server.db_url,
            "--secret-file",
            str(server.secret_file),
        ]
    )
    assert code == 1
    assert "CRL refused" in capsys.readouterr().err


def test_certificate_status_input_rules(server: LiveServer) -> None:
    session = server.session()
    for body in (
        {"issuer_key_id": "abc", "serial": "01"},  # odd number of hex digits
        {"issuer_key_id": "zz", "serial": "01"},
        {"issuer_key_id": "0a", "serial": ""},
        {"issuer_key_id": "0a", "serial": "1" * 41},
    ):
        assert session.post(server.url("/v1/certificate-status"), json=body).status_code == 422
