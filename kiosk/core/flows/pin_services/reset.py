"""Where a locked PIN can be reset — never at the kiosk — and what to bring (workflows-and-peers.md C.3–C.4).

The two JPKI PINs (auth, sign) can be reset at a convenience store with the JPKI PIN reset service, which
needs the *other* JPKI PIN: both locked (or the other one missing, a child's card) means the counter. The
card-info and 住基 PINs are reset only at the counter. A PIN down to its last try at an unattended kiosk is
not locked, but its last try is the counter's: that advice is the counter too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from drivers.mynumber.pinpolicy import PinPolicy
from drivers.mynumber.session import PinStatus
from kiosk.core import pin_service_keys as k
from kiosk.core.view import ResetAdvice

PIN_ORDER = ("auth", "sign", "card_info", "juki")
OTHER_JPKI = {"auth": "sign", "sign": "auth"}
STORE_GUIDE = {"auth": k.RESET_STORE_AUTH, "sign": k.RESET_STORE_SIGN}
COUNTER_BRING: tuple[tuple[str, dict], ...] = ((k.BRING_CARD, {}), (k.BRING_ID, {}), (k.BRING_REPRESENTATIVE, {}),
                                              (k.BRING_PROXY, {}))


def needs_reset_advice(status: PinStatus, policy: PinPolicy) -> bool:
    """Locked, or (unattended) down to the last try this kiosk keeps back."""
    if status.not_set:
        return False
    return status.blocked or status.remaining <= 0 or policy.usable_tries(status) == 0


def advice_for(status: PinStatus, pins: Mapping[str, PinStatus]) -> ResetAdvice:
    name = status.name
    if not (status.blocked or status.remaining <= 0):
        return ResetAdvice(name, "counter", k.RESET_LAST_TRY, {"pin": name}, COUNTER_BRING)
    other = OTHER_JPKI.get(name)
    if other is None:
        return ResetAdvice(name, "counter", k.RESET_COUNTER, {"pin": name}, COUNTER_BRING)
    other_status = pins.get(other)
    if other_status is None or other_status.not_set or other_status.blocked or other_status.remaining <= 0:
        return ResetAdvice(name, "counter", k.RESET_COUNTER_BOTH_JPKI, {"pin": name}, COUNTER_BRING)
    bring = ((k.BRING_CARD, {}), (k.BRING_APP, {}), (k.BRING_OTHER_PIN, {"other": other}))
    return ResetAdvice(name, "convenience_store", STORE_GUIDE[name], {"other": other}, bring)


def reset_advice(pins: Mapping[str, PinStatus], policy: PinPolicy,
                 only: Iterable[str] | None = None) -> tuple[ResetAdvice, ...]:
    """The slip: one entry per PIN that needs it, in the kiosk's PIN order (``only``: just these PINs)."""
    wanted = set(only) if only is not None else set(PIN_ORDER)
    return tuple(advice_for(pins[name], pins) for name in PIN_ORDER
                 if name in wanted and name in pins and needs_reset_advice(pins[name], policy))


__all__ = ["PIN_ORDER", "advice_for", "needs_reset_advice", "reset_advice"]
