"""The message keys the UI itself shows (on top of the flow's keys in ``kiosk.core.messages``), and the
few symbols drawn as text. Kivy-free, so the catalog and glyph tests can walk them.

Literal keys written in ``.kv``/``.py`` files as ``app.t("…")`` are listed here too; a test extracts them
from the sources and fails when one is missing, so this list cannot drift from the screens.
"""

from __future__ import annotations

from kiosk.core.view import ReaderState

READER_KEYS: dict[str, str] = {state.value: f"reader.{state.value}" for state in ReaderState}

PIN_NAME_KEYS: dict[str, str] = {
    "auth": "pinname.auth",
    "sign": "pinname.sign",
    "card_info": "pinname.card_info",
    "juki": "pinname.juki",
}
GENERIC_PIN_KEY = "pinname.generic"

# The button that starts each task on the attract screen (kiosk.core.flows.TASKS).
TASK_KEYS: dict[str, str] = {"card_check": "attract.start", "application": "task.application",
                             "renewal": "task.renewal", "status": "task.status"}

STATUS_KEYS: dict[str, str] = {
    "passed": "result.status.passed",
    "failed": "result.status.failed",
    "not_checked": "result.status.not_checked",
}

UI_KEYS: tuple[str, ...] = (
    "app.title",
    "lang.button",
    "lang.title",
    "lang.close",
    "a11y.large_text.enable",
    "a11y.large_text.disable",
    "a11y.contrast.enable",
    "a11y.contrast.disable",
    "a11y.speech.enable",
    "a11y.speech.disable",
    "staff.call",
    "staff.called",
    "staff.call.sending",
    "staff.call.sent",
    "staff.call.failed",
    "take_card.hint",
    "task.application",
    "task.status",
    "task.renewal",
    "common.back",
    "common.continue",
    "common.yes",
    "common.no",
    "id.type_instead",
    "id.read_again",
    "photo.take",
    "photo.retake",
    "photo.use",
    "details.apply.not_given",
    "details.apply.change",
    "details.apply.certificates",
    "details.apply.certificates_note",
    "details.apply.under_15",
    "text.done",
    "review.label.id",
    "review.consent_text",
    "review.consent",
    "review.submit",
    "receipt.title",
    "receipt.reference",
    "receipt.id",
    "receipt.keep",
    "status.result_title",
    "common.cancel",
    "common.start_over",
    "common.finish",
    "attract.title",
    "attract.subtitle",
    "attract.start",
    "attract.language_hint",
    "insert.title",
    "insert.hint",
    "reading.title",
    "pin.remaining",
    "pin.shield",
    "pin.show",
    "pin.hide",
    "pin.backspace",
    "pin.clear",
    "pin.submit",
    "pin.back_to_result",
    "verifying.title",
    "result.verified",
    "result.not_verified",
    "result.checks",
    "date.full",
    "result.expiry",
    "result.days_left",
    "result.pins",
    "result.pin.tries",
    "result.pin.blocked",
    "result.pin.not_set",
    "result.show_details",
    "result.hide_details",
    "result.details_warning",
    "result.take_card",
    "counter.title",
    "counter.hint",
    "error.title",
    "idle.title",
    "idle.countdown",
    "idle.more_time",
    "idle.end",
    *READER_KEYS.values(),
    *PIN_NAME_KEYS.values(),
    GENERIC_PIN_KEY,
    *STATUS_KEYS.values(),
)

# Symbols drawn as text. Each one is in Noto Sans CJK (the glyph test checks); emoji are avoided on
# purpose because the kiosk font has none and they would draw as boxes.
SYMBOLS: dict[str, str] = {
    "passed": "✓",
    "failed": "×",
    "not_checked": "–",
    "warning": "⚠",
    "dot_empty": "○",
    "dot_filled": "●",
    "back": "←",
    "go": "▶",
    "phone": "☎",
}

# Fixed staff/demo texts (not for residents, not translated): Japanese for the city's staff.
STAFF_TEXTS: dict[str, str] = {
    "exit.title": "係員用：アプリの終了",
    "exit.prompt": "係員用の暗証番号を入力してください",
    "exit.wrong": "番号が違います",
    "exit.locked": "しばらくお待ちください",
    "exit.ok": "終了",
    "exit.cancel": "戻る",
    "exit.disabled": "終了用の番号が設定されていません",
    "demo.title": "デモ用カード / Demo cards",
    "demo.remove": "カードを取り出す / Remove card",
    "demo.open": "デモ / Demo",
    "demo.close": "閉じる / Close",
}
