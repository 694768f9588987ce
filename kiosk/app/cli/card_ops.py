"""``kiosk card info | certs | pins | verify | sign | pin-change``: the card driver from a terminal.

Each works on a PC/SC reader (``--reader``) or an in-process simulated card (``--sim PROFILE``), takes
PINs by prompt or ``--…-pin-env VAR`` (never as arguments), prints for people or ``--json`` for
machines, and masks the My Number unless ``--show-number``.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.basic4 import mask_my_number, parse_basic4, parse_my_number_ef
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.certificates import parse_certificate, validity
from drivers.mynumber.pinpolicy import POLICIES
from drivers.mynumber.revocation import CrlRevocationChecker
from drivers.mynumber.trust import TrustStore
from drivers.mynumber.verifier import ALL_CHECKS, DEFAULT_REQUIRED, CardVerifier, VerifierConfig
from drivers.sim.profile import ProfileError
from kiosk.app.cli.card_cmd import add_card_source, open_transport
from kiosk.app.cli.output import EXIT_USAGE, emit_json, fail, fail_card
from kiosk.app.cli.pin_input import PinInputError, read_pin

PIN_REFS = {"auth": aids.AUTH_PIN, "sign": aids.SIGN_PIN, "card_info": aids.CARD_INFO_PIN, "juki": aids.JUKI_PIN}


def register(sub: argparse._SubParsersAction) -> None:
    info = sub.add_parser("info", help="what the card is: applications, PIN counters, certificates, card info")
    _common(info)
    info.add_argument("--card-info-pin-env", metavar="VAR", help="read My Number and basic 4 with this PIN")
    info.add_argument("--ask-card-info-pin", action="store_true", help="prompt for the card-info PIN")
    info.add_argument("--show-number", action="store_true", help="print the My Number unmasked")
    info.set_defaults(handler=card_info)

    certs = sub.add_parser("certs", help="read the JPKI certificates")
    _common(certs)
    certs.add_argument("--sign-pin-env", metavar="VAR", help="also read the signing certificate")
    certs.add_argument("--out", metavar="DIR", help="write the certificates as DER files into DIR")
    certs.add_argument("--only", choices=("auth", "auth_ca", "sign_ca"),
                       help="read only this certificate (the others are not read from the card)")
    certs.set_defaults(handler=card_certs)

    pins = sub.add_parser("pins", help="tries left for every PIN (spends none)")
    _common(pins)
    pins.set_defaults(handler=card_pins)

    verify = sub.add_parser("verify", help="verify the card: chain, validity, possession, integrity, revocation")
    _common(verify)
    verify.add_argument("--pin-env", metavar="VAR", help="auth PIN from this environment variable")
    verify.add_argument("--card-info-pin-env", metavar="VAR", help="also check the card-info integrity")
    verify.add_argument("--sign-pin-env", metavar="VAR", help="also compare the signing certificate")
    verify.add_argument("--trust", metavar="DIR", help="trust store folder (default with --sim: the test PKI)")
    verify.add_argument("--crl", metavar="FILE", action="append", default=[], help="CRL (DER) for revocation")
    verify.add_argument("--require", metavar="CHECKS", help=f"comma list of required checks ({','.join(ALL_CHECKS)})")
    verify.set_defaults(handler=card_verify)

    sign = sub.add_parser("sign", help="sign a file's SHA-256 with the auth or sign key")
    _common(sign)
    sign.add_argument("--key", choices=("auth", "sign"), default="auth")
    sign.add_argument("--in", dest="infile", required=True, metavar="FILE")
    sign.add_argument("--out", required=True, metavar="FILE")
    sign.add_argument("--pin-env", metavar="VAR")
    sign.set_defaults(handler=card_sign)

    change = sub.add_parser("pin-change", help="change a PIN (the old one is verified first)")
    _common(change)
    change.add_argument("--pin", choices=sorted(PIN_REFS), required=True, dest="which")
    change.add_argument("--old-pin-env", metavar="VAR")
    change.add_argument("--new-pin-env", metavar="VAR")
    change.set_defaults(handler=card_pin_change)


def _common(parser: argparse.ArgumentParser) -> None:
    add_card_source(parser)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--attended", action="store_true",
                        help="clerk counter policy: the last try may be spent with --confirm-last-try")
    parser.add_argument("--confirm-last-try", action="store_true")


def _card(args: argparse.Namespace, transport) -> MyNumberCard:
    return MyNumberCard(transport, POLICIES["attended" if args.attended else "unattended"])


def _run(args: argparse.Namespace, body) -> int:
    """Open the card, run ``body(card)``, map typed errors to a message and an exit code."""
    try:
        with open_transport(args) as transport:
            card = _card(args, transport)
            return body(card)
    except PinInputError as exc:
        return fail(args, "pin_input", str(exc), EXIT_USAGE)
    except ProfileError as exc:
        return fail(args, "profile", str(exc), EXIT_USAGE)
    except errors.CardError as exc:
        return fail_card(args, exc)
    except OSError as exc:  # --in / --out files, --trust / --crl paths
        return fail(args, "file", f"{exc.filename or ''}: {exc.strerror or exc}", EXIT_USAGE)


def _pin(args: argparse.Namespace, label: str, env_attr: str) -> str:
    flag = "--" + env_attr.replace("_", "-")
    return read_pin(label, getattr(args, env_attr), flag)


def _cert_summary(der: bytes) -> dict:
    cert = parse_certificate(der)
    report = validity(cert, datetime.now(UTC))
    return {"serial": f"{cert.serial:X}", "subject": cert.subject, "issuer": cert.issuer,
            "not_after": cert.not_after.isoformat(), "status": report.status,
            "days_to_expiry": report.days_to_expiry, "renewal_window": report.in_renewal_window,
            "sha256": cert.sha256_fingerprint, "bytes": len(der)}


def card_pins(args: argparse.Namespace) -> int:
    def body(card: MyNumberCard) -> int:
        statuses = card.pin_statuses()
        rows = [{"pin": s.name, "remaining": s.remaining, "maximum": s.maximum, "blocked": s.blocked,
                 "not_set": s.not_set, "settable": s.settable} for s in statuses]
        if args.json:
            emit_json({"pins": rows, "apdu_count": card.apdu_count})
        else:
            for row in rows:
                # "not set": a new card waiting for its holder's PIN; "never set": no such PIN (a child's sign)
                unset = "not set (new card)" if row["settable"] else "never set"
                state = unset if row["not_set"] else "BLOCKED" if row["blocked"] else (
                    f"{row['remaining']} of {row['maximum']} tries left")
                print(f"{row['pin']:>10}: {state}")
        return 0
    return _run(args, body)


def card_certs(args: argparse.Namespace) -> int:
    def body(card: MyNumberCard) -> int:
        readers = {"auth": card.jpki.read_auth_certificate, "auth_ca": card.jpki.read_auth_ca_certificate}
        if args.only in readers:
            ders = {args.only: readers[args.only]()}
        elif args.only is None:
            ders = {name: read() for name, read in readers.items()}
        else:
            ders = {}
        try:
            if args.only in (None, "sign_ca"):
                ders["sign_ca"] = card.jpki.read_sign_ca_certificate()
            if args.sign_pin_env and args.only is None:
                ders["sign"] = card.jpki.read_sign_certificate(_pin(args, "sign password", "sign_pin_env"),
                                                               confirm_last_try=args.confirm_last_try)
        except errors.NoSignCertificate:
            pass
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            for name, der in ders.items():
                (out / f"{name}.der").write_bytes(der)
        summary = {name: _cert_summary(der) for name, der in ders.items()}
        if args.json:
            emit_json({"certificates": summary, "apdu_count": card.apdu_count})
        else:
            for name, item in summary.items():
                print(f"{name}: serial {item['serial']}, {item['status']} until {item['not_after']}"
                      f" ({item['days_to_expiry']} days){', renew now' if item['renewal_window'] else ''}")
            print(f"({card.apdu_count} APDUs)")
        return 0
    return _run(args, body)


def card_info(args: argparse.Namespace) -> int:
    def body(card: MyNumberCard) -> int:
        card.recognise()
        document: dict = {"reader": card.session.transport.reader_name,
                          "atr": card.session.transport.atr.hex(" ").upper(),
                          "pins": {s.name: s.remaining for s in card.pin_statuses()},
                          "auth_certificate": _cert_summary(card.jpki.read_auth_certificate())}
        if args.card_info_pin_env or args.ask_card_info_pin:
            pin = _pin(args, "card-info PIN", "card_info_pin_env")
            raw = card.card_info.read(pin, integrity=False)
            number = parse_my_number_ef(raw.my_number_ef)
            basic4 = parse_basic4(raw.basic4_ef)
            document["card_info"] = {
                "my_number": number if args.show_number else mask_my_number(number),
                "name": basic4.name, "address": basic4.address, "birth_date": basic4.birth_date.isoformat(),
                "sex": basic4.sex_label}
        document["apdu_count"] = card.apdu_count
        if args.json:
            emit_json(document)
        else:
            for key, value in document.items():
                print(f"{key}: {value}")
        return 0
    return _run(args, body)


def _trust_store(args: argparse.Namespace) -> TrustStore:
    if args.trust:
        return TrustStore.from_directory(args.trust)
    if not args.sim:
        raise errors.CardError("--trust DIR is needed for a real card (the J-LIS CA certificates)")
    from drivers.sim import pki

    folder = Path(tempfile.mkdtemp(prefix="kiosk-test-trust-"))
    pki.write_trust_store(folder)
    return TrustStore.from_directory(folder)


def _revocation(args: argparse.Namespace, store: TrustStore) -> CrlRevocationChecker | None:
    """Offline revocation from ``--crl`` files, judged by ``contract.crl`` (the server's CRL rules); a CRL
    those rules refuse is a ``crl_error``, not a silent "not checked"."""
    crls = [Path(path).read_bytes() for path in args.crl]
    if not crls and args.sim:
        # the simulated card's own test PKI: an empty, fresh CRL from each test auth CA (nothing revoked)
        from drivers.sim import pki

        now = datetime.now(UTC)
        crls = [pki.make_crl(pki.certificate_authority("auth", g), [], this_update=now,
                             next_update=now + timedelta(days=1)) for g in ("g1", "g2")]
    if not crls:
        return None
    return CrlRevocationChecker(crls, store.certificates, clock=lambda: datetime.now(UTC))


def card_verify(args: argparse.Namespace) -> int:
    required = DEFAULT_REQUIRED
    if args.require:
        required = frozenset(name.strip() for name in args.require.split(",") if name.strip())

    def body(card: MyNumberCard) -> int:
        store = _trust_store(args)
        verifier = CardVerifier(card, store, config=VerifierConfig(required=required),
                                revocation=_revocation(args, store))
        verifier.prefetch()
        auth_pin = _pin(args, "auth PIN", "pin_env")
        card_info_pin = _pin(args, "card-info PIN", "card_info_pin_env") if args.card_info_pin_env else None
        sign_pin = _pin(args, "sign password", "sign_pin_env") if args.sign_pin_env else None
        verdict = verifier.verify(auth_pin, card_info_pin=card_info_pin, sign_pin=sign_pin,
                                  confirm_last_try=args.confirm_last_try)
        verdict.wipe()
        if args.json:
            emit_json(verdict.as_dict())
        else:
            for check in verdict.checks:
                mark = {"passed": "✔", "failed": "✖", "not_checked": "–"}[check.status]
                need = " (required)" if check.name in required else ""
                print(f"{mark} {check.name}{need}: {check.status}{f' ({check.reason})' if check.reason else ''}")
            print(f"→ {'VERIFIED' if verdict.verified else 'NOT verified'} ({verdict.apdu_count} APDUs)")
        return 0 if verdict.verified else 1
    return _run(args, body)


def card_sign(args: argparse.Namespace) -> int:
    from drivers.mynumber.verifier import SHA256_DIGEST_INFO

    def body(card: MyNumberCard) -> int:
        digest = hashlib.sha256(Path(args.infile).read_bytes()).digest()
        label = "auth PIN" if args.key == "auth" else "sign password"
        pin = _pin(args, label, "pin_env")
        sign = card.jpki.sign_with_auth_key if args.key == "auth" else card.jpki.sign_with_sign_key
        signature = sign(SHA256_DIGEST_INFO + digest, pin, confirm_last_try=args.confirm_last_try)
        Path(args.out).write_bytes(signature)
        if args.json:
            emit_json({"signature_bytes": len(signature), "out": args.out, "apdu_count": card.apdu_count})
        else:
            print(f"signature written to {args.out} ({len(signature)} bytes, {card.apdu_count} APDUs)")
        return 0
    return _run(args, body)


def card_pin_change(args: argparse.Namespace) -> int:
    ref = PIN_REFS[args.which]

    def body(card: MyNumberCard) -> int:
        old = read_pin(f"current {args.which} PIN", args.old_pin_env, "--old-pin-env")
        new = read_pin(f"new {args.which} PIN", args.new_pin_env, "--new-pin-env", confirm=True)
        application = {"jpki": card.jpki, "card_info": card.card_info, "juki": card.juki}[ref.application.key]
        application.change_pin(ref, old, new, confirm_last_try=args.confirm_last_try)
        if args.json:
            emit_json({"changed": args.which, "apdu_count": card.apdu_count})
        else:
            print(f"{args.which} PIN changed")
        return 0
    return _run(args, body)
