"""The one mapping from domain facts to message keys: every error, every check, complete key list."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from drivers import errors
from drivers.mynumber.basic4 import Basic4
from drivers.mynumber.certificates import ValidityReport
from drivers.mynumber.integrity import CheckResult
from drivers.mynumber.pinpolicy import ATTENDED, UNATTENDED
from drivers.mynumber.session import PinStatus
from drivers.mynumber.verifier import ALL_CHECKS, DEFAULT_REQUIRED, is_verified
from kiosk.core import messages as m

KEY_SHAPE = re.compile(r"[a-z][a-z_]*(\.[a-z0-9_]+)+")


@pytest.mark.parametrize(("error", "key", "args"), [
    (errors.WrongPin(0x63C2, 2, "auth"), "pin.wrong", {"remaining": 2, "pin": "auth"}),
    (errors.WrongPin(0x63C1, 1), "pin.wrong", {"remaining": 1}),
    (errors.PinGuardRefused("auth", 1, "unattended"), "counter.last_try", {"pin": "auth", "remaining": 1}),
    (errors.PinBlocked(0x6984), "counter.blocked", {}),
    (errors.PinNotSet("auth"), "counter.pin_not_set", {"pin": "auth"}),
    (errors.PinFormatInvalid("auth", "4 digits"), "pin.format", {"pin": "auth"}),
    (errors.NotAMyNumberCard("no JPKI"), "error.not_my_number", {}),
    (errors.CardRemoved("gone"), "error.card_removed", {}),
    (errors.NoCard("empty"), "error.card_removed", {}),
    (errors.ServiceUnavailable("pcscd down"), "error.reader", {}),
    (errors.NoReader("unplugged"), "error.reader", {}),
    (errors.ReaderError("odd"), "error.reader", {}),
    (errors.ReaderTimeout("slow"), "error.timeout", {}),
    (errors.ProtocolError("bad TLV"), "error.card_generic", {}),
    (errors.FileNotFound(0x6A82), "error.card_generic", {}),
    (errors.ReferenceNotFound(0x6A88), "error.card_generic", {}),
    (ValueError("a bug"), "error.card_generic", {}),
])
def test_errors_map_to_keys(error: BaseException, key: str, args: dict) -> None:
    message = m.message_for_error(error)
    assert (message.key, dict(message.args)) == (key, args)
    assert message.key in m.ALL_MESSAGE_KEYS


def test_error_text_never_becomes_the_message() -> None:
    secret = "試験 太郎 123456789018"
    message = m.message_for_error(errors.ProtocolError(secret))
    assert secret not in repr(message)


def test_card_gone() -> None:
    assert m.is_card_gone(errors.CardRemoved("x")) and m.is_card_gone(errors.NoCard("x"))
    assert not m.is_card_gone(errors.NoReader("x")) and not m.is_card_gone(errors.WrongPin(0x63C2, 2))


@pytest.mark.parametrize("name", [*ALL_CHECKS])
@pytest.mark.parametrize("status", ["passed", "failed", "not_checked"])
def test_every_check_and_status_has_its_own_key(name: str, status: str) -> None:
    key = m.check_key(name, status)
    assert key == f"check.{name}.{status}"
    assert key in m.ALL_MESSAGE_KEYS


def test_unknown_checks_still_get_words() -> None:
    assert m.check_key("future_check", "passed") == "check.other.passed"
    assert m.check_key("auth_chain", "weird") == "check.auth_chain.not_checked"
    assert {"check.other.passed", "check.other.failed", "check.other.not_checked"} <= m.ALL_MESSAGE_KEYS


def test_check_lines() -> None:
    lines = m.check_lines([CheckResult("auth_chain", "passed"), CheckResult("revocation", "not_checked", "offline")])
    assert [(line.name, line.status, line.message_key) for line in lines] == [
        ("auth_chain", "passed", "check.auth_chain.passed"),
        ("revocation", "not_checked", "check.revocation.not_checked"),
    ]


def report(status: str, days: int, window: bool) -> ValidityReport:
    return ValidityReport(status, days, window, datetime(2030, 1, 1, tzinfo=UTC))  # type: ignore[arg-type]


def test_renewal_keys() -> None:
    assert m.renewal_key(report("valid", 400, False)) is None
    assert m.renewal_key(report("valid", 40, True)) == "renewal.soon"
    assert m.renewal_key(report("expired", -3, False)) == "renewal.expired"
    assert m.renewal_key(report("not_yet_valid", 900, False)) is None
    assert m.renewal_key(None) is None


def test_expiry_is_a_jst_date() -> None:
    # 2030-03-31 20:00 UTC is already 1 April in Japan.
    assert m.expiry_date(datetime(2030, 3, 31, 20, 0, tzinfo=UTC)) == "2030-04-01"
    assert m.expiry_date(None) is None


def test_detail_lines_mask_the_my_number() -> None:
    basic4 = Basic4("試験 太郎", "東京都千代田区霞が関九丁目9番9号", date(1985, 4, 1), "1")
    lines = dict(m.detail_lines("123456789018", basic4))
    assert lines == {
        "details.name": "試験 太郎",
        "details.address": "東京都千代田区霞が関九丁目9番9号",
        "details.birth_date": "1985-04-01",
        "details.sex": "sex.male",
        "details.my_number": "**** **** 9018",
    }
    assert set(lines) == set(m.DETAIL_LABELS) <= m.ALL_MESSAGE_KEYS
    assert lines["details.sex"] in m.SEX_KEYS
    assert m.detail_lines(None, None) == ()


@pytest.mark.parametrize(("code", "key"), [("1", "sex.male"), ("2", "sex.female"),
                                           ("9", "sex.not_applicable"), ("0", "sex.not_known"),
                                           ("3", "sex.unknown")])
def test_sex_values_are_keys(code: str, key: str) -> None:
    assert m.sex_key(Basic4("n", "a", date(2000, 1, 1), code)) == key
    assert key in m.ALL_MESSAGE_KEYS


def test_pin_refusal_follows_the_policy() -> None:
    assert m.pin_refusal(PinStatus("auth", 3, 3), UNATTENDED) is None
    assert m.pin_refusal(PinStatus("auth", 2, 3), UNATTENDED) is None
    last = m.pin_refusal(PinStatus("auth", 1, 3), UNATTENDED)
    assert last is not None and (last.key, dict(last.args)) == ("counter.last_try", {"pin": "auth", "remaining": 1})
    blocked = m.pin_refusal(PinStatus("card_info", 0, 3, blocked=True), UNATTENDED)
    assert blocked is not None and (blocked.key, dict(blocked.args)) == ("counter.blocked", {"pin": "card_info"})
    not_set = m.pin_refusal(PinStatus("auth", 0, 3, not_set=True), UNATTENDED)
    assert not_set is not None and not_set.key == "counter.pin_not_set"
    # A clerk's counter needs a confirmation for the last try; this flow never gives one.
    attended = m.pin_refusal(PinStatus("auth", 1, 3), ATTENDED)
    assert attended is not None and attended.key == "counter.last_try"


def test_pin_tries_say_what_is_usable_here() -> None:
    (tries,) = m.pin_tries([PinStatus("sign", 4, 5)], UNATTENDED)
    assert (tries.pin, tries.remaining, tries.maximum, tries.blocked, tries.not_set) == ("sign", 4, 5, False, False)
    assert tries.usable == 3  # the last try is never spent at an unattended kiosk
    (attended,) = m.pin_tries([PinStatus("sign", 4, 5)], ATTENDED)
    assert attended.usable == 4
    (blocked,) = m.pin_tries([PinStatus("auth", 0, 3, blocked=True)], UNATTENDED)
    assert blocked.usable == 0


def check(name: str, status: str, reason: str | None = None) -> CheckResult:
    return CheckResult(name, status, reason)


PASSED = [check(name, "passed") for name in ("auth_chain", "auth_validity", "auth_key_usage", "possession",
                                             "revocation")]


@pytest.mark.parametrize(("changed", "headline", "tone"), [
    ([], "result.verified", "ok"),
    ([check("auth_chain", "failed", "unknown_issuer")], "result.headline.issuer_unknown", "warn"),
    ([check("auth_chain", "failed", "untrusted_root")], "result.headline.issuer_unknown", "warn"),
    ([check("auth_chain", "failed", "bad_signature")], "result.headline.not_genuine", "bad"),
    ([check("possession", "failed", "signature_does_not_match_certificate")], "result.headline.not_genuine", "bad"),
    ([check("auth_validity", "failed", "expired")], "result.headline.expired", "bad"),
    ([check("auth_chain", "failed", "ca_expired")], "result.headline.expired", "bad"),
    ([check("basic4_digest", "failed", "digest_mismatch")], "result.headline.tampered", "bad"),
    ([check("revocation", "failed", "revoked")], "result.headline.revoked", "bad"),
    ([check("revocation", "not_checked", "offline")], "result.not_verified", "warn"),
])
def test_the_result_leads_with_what_it_means(changed: list[CheckResult], headline: str, tone: str) -> None:
    by_name = {c.name: c for c in PASSED}
    by_name.update({c.name: c for c in changed})
    checks = list(by_name.values())
    verified = is_verified(checks, DEFAULT_REQUIRED)
    notice = m.result_headline(checks, verified)
    assert (notice.key, notice.tone) == (headline, tone)


def test_an_unknown_issuer_never_reads_as_forgery() -> None:
    """The trust store may lack a CA generation: that is "could not confirm", not "not genuine"."""
    checks = [check("auth_chain", "failed", "unknown_issuer"), check("possession", "not_checked",
                                                                       "certificate_failed")]
    assert m.result_headline(checks, False).key == "result.headline.issuer_unknown"


def test_pin_notices_lead_with_the_next_step() -> None:
    notices = m.pin_notices([PinStatus("auth", 3, 3), PinStatus("sign", 0, 5, blocked=True),
                             PinStatus("card_info", 1, 3), PinStatus("juki", 3, 3)], UNATTENDED)
    assert [(n.key, dict(n.args)) for n in notices] == [("notice.pin_blocked", {"pin": "sign"}),
                                                        ("notice.last_try", {"pin": "card_info"})]
    minor = m.pin_notices([PinStatus("sign", 0, 5, not_set=True)], UNATTENDED)
    assert [n.key for n in minor] == ["notice.sign_not_set"]


def test_all_keys_are_well_formed_and_complete() -> None:
    assert all(KEY_SHAPE.fullmatch(key) for key in m.ALL_MESSAGE_KEYS), sorted(
        key for key in m.ALL_MESSAGE_KEYS if not KEY_SHAPE.fullmatch(key))
    named = {value for name, value in vars(m).items() if name.isupper() and isinstance(value, str) and "." in value}
    assert named <= m.ALL_MESSAGE_KEYS
    assert len(m.CHECK_KEYS) == 3 * (len(ALL_CHECKS) + 1)


def test_message_args_are_read_only_and_copied_out() -> None:
    message = m.Message("pin.wrong", {"remaining": 2})
    with pytest.raises(TypeError):
        message.args["remaining"] = 3  # type: ignore[index]
    copy = message.args_dict()
    copy["remaining"] = 0
    assert message.args["remaining"] == 2
