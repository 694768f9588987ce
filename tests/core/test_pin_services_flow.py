"""The PIN services driven like a script through the real shell (SyncDispatcher, FakeClock) and a card worker
that runs each operation at once on the simulated card: the tries of the four PINs, a change of each PIN,
one PIN for the three, every rule checked before the card is touched, the last try kept for the counter,
where a locked PIN is reset, a card pulled before or during the change, and no PIN left anywhere."""

from __future__ import annotations

import itertools
import logging
import string

import pytest

from drivers.sim.faults import FaultPlan, FaultyCard
from kiosk.config import KioskConfig
from kiosk.core import pin_service_keys as k
from kiosk.core.dispatch import FakeClock, SyncDispatcher
from kiosk.core.events import (
    Back,
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    EditField,
    Event,
    Finish,
    PinDigit,
    PinSubmit,
    ReaderChanged,
    ShowDetails,
    Start,
)
from kiosk.core.flows import PIN_SERVICES, FlowView
from kiosk.core.flows.pin_services import PinServicesFlow, ReadPinStatuses
from kiosk.core.messages import ALL_MESSAGE_KEYS
from kiosk.core.shell import Shell
from kiosk.core.view import PinServicesView, Screen, ViewState
from tests.core.test_card_check_flow import reachable_strings
from tests.core.test_pin_services_operations import CURRENT, NEW, PINS, Bench, bench, change, secrets

READER = "Reader 0"
COMMON = ("auth", "card_info", "juki")


class SimCardJobs:
    """The card worker, synchronous: runs the operation on the bench's card and posts its outcome."""

    def __init__(self, dispatcher: SyncDispatcher, at: Bench) -> None:
        self.dispatcher, self.at = dispatcher, at
        self.operations: list[object] = []
        self._ids = itertools.count(100)

    def submit(self, operation, *, insertion: int) -> int:  # any CardOperation
        ticket = next(self._ids)
        self.operations.append(operation)
        try:
            result = operation.run(self.at)
        except Exception as exc:  # the worker posts every failure
            self.dispatcher.post(CardFailed(ticket, exc))
        else:
            self.dispatcher.post(CardResult(ticket, result))
        finally:
            operation.wipe()
        return ticket


class Kiosk:
    """The shell hosting the PIN services, with helpers that read like what a resident does."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, at: Bench | None = None,
                 config: KioskConfig | None = None) -> None:
        import kiosk.core.shell as shell_module

        if PIN_SERVICES not in shell_module.TASKS:  # until the lead offers it on the attract screen
            monkeypatch.setattr(shell_module, "TASKS", (*shell_module.TASKS, PIN_SERVICES))
        self.at = at or bench()
        self.clock = FakeClock()
        self.dispatcher = SyncDispatcher()
        self.jobs = SimCardJobs(self.dispatcher, self.at)
        self.flows: list[PinServicesFlow] = []
        self.shell = Shell(self.dispatcher, self.jobs, self.clock, config or KioskConfig(),
                           flows={PIN_SERVICES: self._flow})
        self.states: list[ViewState] = []
        self.views: list[FlowView] = []
        self.shell.subscribe(self._seen)

    def _flow(self, host: Shell) -> PinServicesFlow:
        self.flows.append(PinServicesFlow(host))
        return self.flows[-1]

    def _seen(self, state: ViewState) -> None:
        keys = {state.message_key} if state.message_key else set()
        if state.pin is not None:
            keys |= {key for key in (state.pin.error_key, state.pin.note_key) if key}
        view = self.view
        if view is not None:
            keys |= {line.outcome_key for line in view.results} | {line.reason_key for line in view.results
                                                                     if line.reason_key}
            keys |= {advice.guide_key for advice in view.resets}
            keys |= {key for advice in view.resets for key, _ in advice.bring}
            if view.headline is not None:
                keys.add(view.headline.key)
        assert not keys - ALL_MESSAGE_KEYS, keys - ALL_MESSAGE_KEYS
        self.states.append(state)
        if self.flows:
            self.views.append(self.flows[-1].view())

    @property
    def state(self) -> ViewState:
        return self.shell.state

    @property
    def screen(self) -> Screen:
        return self.state.screen

    @property
    def view(self) -> PinServicesView | None:
        return self.flows[-1].view().pin_services if self.flows else None

    def post(self, *events: Event) -> Kiosk:
        for event in events:
            self.dispatcher.post(event)
        return self

    def type(self, text: str) -> Kiosk:
        return self.post(*(PinDigit(c) for c in text), PinSubmit())

    def start(self) -> Kiosk:
        return self.post(ReaderChanged("ready", READER), CardInserted(READER, b"\x3b", 1), Start(PIN_SERVICES))

    def change(self, target: str, *, current: dict[str, str] | None = None, new: str | None = None,
               again: str | None = None) -> Kiosk:
        self.post(EditField(target))
        for name in (COMMON if target == "common" else (target,)):
            self.type((current or CURRENT)[name])
        new = new if new is not None else NEW[target] if target != "common" else "2580"
        self.type(new)
        return self.type(again if again is not None else new)


def test_the_menu_shows_every_pins_tries_without_spending_one(monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = Kiosk(monkeypatch, bench(remaining={"sign": 2})).start()
    assert kiosk.screen is Screen.PIN_SERVICES and kiosk.state.message_key == k.MENU
    view = kiosk.view
    assert view is not None
    assert [(p.pin, p.remaining, p.maximum, p.blocked, p.not_set, p.usable) for p in view.pins] == [
        ("auth", 3, 3, False, False, 2), ("sign", 2, 5, False, False, 1), ("card_info", 3, 3, False, False, 2),
        ("juki", 3, 3, False, False, 2)]
    assert view.changeable == PINS and view.common_offered and view.resets == ()
    assert kiosk.at.pin_commands() == []
    # the expiry guidance every card read gives: the auth certificate's last day, renewal not yet open
    assert [(line.item, line.state) for line in view.expiries] == [("auth_certificate", "valid")]


@pytest.mark.parametrize("name", PINS)
def test_each_pin_is_changed_current_then_new_twice(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    kiosk = Kiosk(monkeypatch).start().post(EditField(name))
    assert kiosk.screen is Screen.PIN_CHANGE
    assert (kiosk.state.message_key, kiosk.state.message_args) == (k.ENTER_CURRENT, {"pin": name})
    view = kiosk.view
    assert view is not None and (view.target, view.entering, view.entering_for, view.step, view.steps) == (
        name, "current", name, 1, 2)
    pad = kiosk.state.pin
    assert pad is not None and pad.stage == 0
    if name == "sign":
        assert set(pad.keys) == set(string.ascii_uppercase + string.digits) and (pad.min_length, pad.max_length) == (
            6, 16)
    else:
        assert pad.keys == tuple("1234567890") and pad.max_length == 4
    kiosk.type(CURRENT[name])
    assert kiosk.state.message_key == k.ENTER_NEW and kiosk.state.pin is not None and kiosk.state.pin.stage == 1
    assert kiosk.state.pin.note_key == (k.RULE_SIGN if name == "sign" else k.RULE_DIGITS4)
    assert kiosk.at.pin_commands() == []  # nothing reaches the card while typing
    kiosk.type(NEW[name])
    assert kiosk.state.pin is not None and kiosk.state.pin.stage == 2 and kiosk.state.message_key == "input.again"
    kiosk.type(NEW[name])
    assert kiosk.screen is Screen.PIN_CHANGE_RESULT and kiosk.state.message_key == k.RESULT_ALL_CHANGED
    view = kiosk.view
    assert view is not None and view.headline is not None and view.headline.tone == "ok"
    assert [(line.pin, line.outcome, line.outcome_key, line.confirmed) for line in view.results] == [
        (name, "changed", k.OUTCOME_CHANGED, True)]
    assert kiosk.at.accepts(name, NEW[name]) and not kiosk.at.accepts(name, CURRENT[name])
    kiosk.post(Back())  # back to the menu: the counters as the card says them now
    assert kiosk.screen is Screen.PIN_SERVICES
    assert next(p for p in kiosk.view.pins if p.pin == name).remaining == kiosk.at.pin(name).max_tries


def test_a_lower_case_sign_pin_is_taken_as_upper_case_and_other_keys_are_ignored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = Kiosk(monkeypatch).start().post(EditField("sign"))
    kiosk.post(*(PinDigit(c) for c in "q!x7-z93kd"))
    assert kiosk.state.pin is not None and kiosk.state.pin.entered == 8
    kiosk.post(PinSubmit()).type(NEW["sign"].lower()).type(NEW["sign"])
    assert [line.outcome for line in kiosk.view.results] == ["changed"]


def test_one_new_pin_for_the_three_four_digit_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = Kiosk(monkeypatch).start().post(EditField("common"))
    steps = []
    for name in COMMON:
        view = kiosk.view
        steps.append((view.entering, view.entering_for, view.step, view.steps))
        kiosk.type(CURRENT[name])
    steps.append((kiosk.view.entering, kiosk.view.entering_for, kiosk.view.step, kiosk.view.steps))
    assert steps == [("current", "auth", 1, 4), ("current", "card_info", 2, 4), ("current", "juki", 3, 4),
                     ("new", "common", 4, 4)]
    kiosk.type("2580").type("2580")
    assert [(line.pin, line.outcome) for line in kiosk.view.results] == [
        ("auth", "changed"), ("card_info", "changed"), ("juki", "changed")]
    assert all(kiosk.at.accepts(name, "2580") for name in COMMON) and kiosk.at.accepts("sign", CURRENT["sign"])


@pytest.mark.parametrize(("name", "new", "again", "error"), [
    ("auth", "12", None, "input.too_short"),
    ("sign", "ABCDEFGH", None, "input.missing_kind"),
    ("sign", "12345678", None, "input.missing_kind"),
    ("sign", "AB12", None, "input.too_short"),
    ("juki", "1111", "2222", "input.mismatch"),
    ("card_info", CURRENT["card_info"], None, k.SAME_AS_CURRENT),
], ids=["short", "sign-no-digit", "sign-no-letter", "sign-short", "mismatch", "same-as-current"])
def test_every_rule_is_checked_before_the_card_is_touched(monkeypatch: pytest.MonkeyPatch, name: str, new: str,
                                                         again: str | None, error: str) -> None:
    kiosk = Kiosk(monkeypatch).start()
    before = list(kiosk.at.trace)
    kiosk.post(EditField(name)).type(CURRENT[name]).type(new)
    if kiosk.state.pin is not None and kiosk.state.pin.error_key is None:
        kiosk.type(again if again is not None else new)
    assert kiosk.screen is Screen.PIN_CHANGE
    assert kiosk.state.pin is not None and kiosk.state.pin.error_key == error
    assert kiosk.state.pin.stage == 1 and kiosk.view.entering == "new"  # the new PIN is asked again, both times
    assert kiosk.at.trace == before  # not one APDU since the menu
    assert kiosk.at.accepts(name, CURRENT[name])


def test_one_current_pin_equal_to_the_new_one_is_fine_when_others_change(monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = Kiosk(monkeypatch).start().change("common", new=CURRENT["auth"])
    assert [line.outcome for line in kiosk.view.results] == ["changed"] * 3


def test_a_wrong_current_pin_changes_nothing_and_shows_the_tries_left(monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = Kiosk(monkeypatch).start().change("auth", current={"auth": "0000"})
    assert kiosk.state.message_key == k.RESULT_NONE
    (line,) = kiosk.view.results
    assert (line.outcome, line.reason_key, line.reason_args) == ("not_changed", k.REASON_WRONG_PIN,
                                                                 {"remaining": 1, "pin": "auth"})
    kiosk.post(Back())
    assert next(p for p in kiosk.view.pins if p.pin == "auth").remaining == 2
    kiosk.change("auth", current={"auth": "0000"})  # one usable try was left: now the last one is the counter's
    assert kiosk.view.resets[0].pin == "auth" and kiosk.view.resets[0].where == "counter"
    kiosk.post(Back())
    assert "auth" not in kiosk.view.changeable and not kiosk.view.common_offered


@pytest.mark.parametrize("name", [*PINS, "common"])
def test_the_last_try_is_the_counters_on_an_unattended_kiosk(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    last = "juki" if name == "common" else name
    kiosk = Kiosk(monkeypatch, bench(remaining={last: 1})).start()
    assert last not in kiosk.view.changeable
    before = list(kiosk.at.trace)
    kiosk.post(EditField(name))
    assert kiosk.screen is Screen.GO_TO_COUNTER
    assert (kiosk.state.message_key, kiosk.state.message_args) == ("counter.last_try", {"pin": last, "remaining": 1})
    assert [(advice.pin, advice.where, advice.guide_key) for advice in kiosk.view.resets] == [
        (last, "counter", k.RESET_LAST_TRY)]
    assert kiosk.at.trace == before and kiosk.at.pin(last).remaining == 1
    kiosk.post(Back())
    assert kiosk.screen is Screen.PIN_SERVICES


@pytest.mark.parametrize(("blocked", "expected"), [
    ({"auth": 0}, [("auth", "convenience_store", k.RESET_STORE_AUTH, {"other": "sign"})]),
    ({"sign": 0}, [("sign", "convenience_store", k.RESET_STORE_SIGN, {"other": "auth"})]),
    ({"auth": 0, "sign": 0}, [("auth", "counter", k.RESET_COUNTER_BOTH_JPKI, {"pin": "auth"}),
                              ("sign", "counter", k.RESET_COUNTER_BOTH_JPKI, {"pin": "sign"})]),
    ({"card_info": 0}, [("card_info", "counter", k.RESET_COUNTER, {"pin": "card_info"})]),
    ({"juki": 0}, [("juki", "counter", k.RESET_COUNTER, {"pin": "juki"})]),
], ids=["auth", "sign", "both-jpki", "card_info", "juki"])
def test_a_locked_pin_leads_to_where_it_can_be_reset(monkeypatch: pytest.MonkeyPatch, blocked: dict[str, int],
                                                    expected: list[tuple]) -> None:
    kiosk = Kiosk(monkeypatch, bench(remaining=blocked)).start()
    assert [(a.pin, a.where, a.guide_key, a.guide_args) for a in kiosk.view.resets] == expected
    assert all(p.blocked for p in kiosk.view.pins if p.pin in blocked)
    kiosk.post(ShowDetails())
    assert kiosk.screen is Screen.PIN_RESET_GUIDE and kiosk.state.message_key == k.NO_RESET_HERE
    for advice in kiosk.view.resets:
        bring = [key for key, _ in advice.bring]
        assert bring[0] == k.BRING_CARD
        assert (k.BRING_OTHER_PIN in bring) == (advice.where == "convenience_store")
    kiosk.post(Back(), EditField(next(iter(blocked))))
    assert kiosk.screen is Screen.PIN_RESET_GUIDE and kiosk.state.message_key == "counter.blocked"
    assert kiosk.at.pin_commands() == []  # no reset, no VERIFY: nothing is attempted here


# --- the card pulled ------------------------------------------------------------------------------------------


def pulled_at(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...], which: str, index: int = 0,
              offset: int = 0) -> Kiosk:
    """A kiosk whose card leaves at the ``index``-th PIN VERIFY or CHANGE (plus ``offset`` APDUs) of the change
    of ``names`` — numbered by a clean run of the same sequence: the menu's counters, then the change."""
    probe = bench()
    ReadPinStatuses().run(probe)  # what the menu reads: the counters and the certificate
    change(*names, new="2580" if len(names) > 1 else None).run(probe)
    seen = probe.trace
    numbers = [i + 1 for i, line in enumerate(seen) if (line.startswith("00 20 ") and "redacted" in line
                                                        if which == "verify" else line.startswith("00 24 "))]
    at_apdu = numbers[index] + offset
    return Kiosk(monkeypatch, bench(wrap=lambda icc: FaultyCard(icc, FaultPlan(remove_at=at_apdu))))


@pytest.mark.parametrize("name", PINS)
def test_pulled_at_the_current_pins_verify_nothing_changed(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    kiosk = pulled_at(monkeypatch, (name,), "verify").start().change(name)
    kiosk.post(CardRemoved(READER))
    assert kiosk.screen is Screen.PIN_CHANGE_RESULT and kiosk.state.message_key == k.RESULT_CARD_REMOVED
    (line,) = kiosk.view.results
    assert (line.outcome, line.reason_key) == ("not_changed", k.REASON_CARD_REMOVED) and kiosk.view.card_removed
    assert kiosk.at.accepts(name, CURRENT[name])


@pytest.mark.parametrize("name", PINS)
def test_pulled_during_the_change_is_unknown(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    kiosk = pulled_at(monkeypatch, (name,), "change").start().change(name)
    assert kiosk.screen is Screen.PIN_CHANGE_RESULT and kiosk.state.message_key == k.RESULT_UNKNOWN
    (line,) = kiosk.view.results
    assert (line.outcome, line.outcome_key, line.confirmed) == ("unknown", k.OUTCOME_UNKNOWN, False)
    assert kiosk.view.headline is not None and kiosk.view.headline.tone == "bad"
    kiosk.post(CardRemoved(READER))
    assert kiosk.screen is Screen.PIN_CHANGE_RESULT  # stays up: the only place that says what happened


def test_pulled_in_the_middle_of_the_three_says_exactly_which(monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = pulled_at(monkeypatch, COMMON, "change", index=1).start().change("common")
    assert [(line.pin, line.outcome) for line in kiosk.view.results] == [
        ("auth", "changed"), ("card_info", "unknown"), ("juki", "not_attempted")]
    assert kiosk.state.message_key == k.RESULT_UNKNOWN

    kiosk = pulled_at(monkeypatch, COMMON, "change", index=0, offset=2).start().change("common")
    assert [(line.pin, line.outcome) for line in kiosk.view.results] == [
        ("auth", "changed"), ("card_info", "not_changed"), ("juki", "not_attempted")]
    assert kiosk.state.message_key == k.RESULT_PARTLY


def test_put_back_after_a_pulled_change_reads_the_counters_again(monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = pulled_at(monkeypatch, ("auth",), "change").start().change("auth")
    kiosk.post(CardRemoved(READER))
    kiosk.at.card = bench(simulated=kiosk.at.simulated).card  # the same card, a new connection
    kiosk.jobs.at = kiosk.at
    kiosk.post(CardInserted(READER, b"\x3b", 2))
    assert kiosk.screen is Screen.PIN_SERVICES


def test_a_card_pulled_while_typing_starts_again_for_the_same_person(monkeypatch: pytest.MonkeyPatch) -> None:
    kiosk = Kiosk(monkeypatch).start().post(EditField("auth")).type(CURRENT["auth"])
    session = kiosk.state.session_id
    kiosk.post(CardRemoved(READER))
    assert kiosk.screen is Screen.INSERT_CARD and kiosk.state.message_key == "error.card_removed"
    assert kiosk.state.session_id != session
    assert not [s for s in secrets() if any(s in text for text in reachable_strings(kiosk.shell))]


# --- no PIN anywhere ------------------------------------------------------------------------------------------


def test_no_pin_in_logs_traces_views_or_state_after_the_session(monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    kiosk = Kiosk(monkeypatch).start()
    kiosk.post(EditField("sign")).type(CURRENT["sign"]).post(*(PinDigit(c) for c in NEW["sign"][:4]))
    kiosk.post(Back()).change("sign").post(Back()).change("common").post(Back())
    kiosk.change("auth", current={"auth": "9999"})
    kiosk.post(Finish())
    assert kiosk.screen is Screen.TAKE_CARD
    texts = [caplog.text, *kiosk.at.trace, *map(repr, kiosk.states), *map(repr, kiosk.views),
             *map(repr, kiosk.jobs.operations)]
    everything = "\n".join(texts)
    assert not [secret for secret in secrets() | {"9999"} if secret in everything]
    assert kiosk.flows[-1].view().pin_services is None or kiosk.flows[-1].view().pin_services.results == ()
    assert not [s for s in secrets() if any(s in text for text in reachable_strings(kiosk.shell))]
    assert not kiosk.shell.session.entry.holds_anything()
    assert all(not any(current) and not any(new) for op in kiosk.jobs.operations
               for _, current, new in getattr(op, "changes", ()))


def test_a_cancel_mid_change_wipes_the_pins_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    from kiosk.core.events import Cancel

    kiosk = Kiosk(monkeypatch).start().post(EditField("common")).type(CURRENT["auth"]).type(CURRENT["card_info"])
    kiosk.post(*(PinDigit(c) for c in CURRENT["juki"][:3]))
    kiosk.post(Cancel())
    assert kiosk.screen is Screen.TAKE_CARD
    assert not [s for s in secrets() if any(s in text for text in reachable_strings(kiosk.shell))]
    assert not [s for s in secrets() if any(s in text for text in reachable_strings(kiosk.flows[-1]))]
    assert kiosk.at.pin_commands() == []
