"""One screen class per ``kiosk.core.view.Screen`` value, imported the first time it is shown.

Lazy loading keeps the cold start to the attract screen short: only its kv file is parsed before the
first frame; the PIN pad, result and error screens are built when a session first needs them.
"""

from __future__ import annotations

import importlib

from kiosk.core.view import Screen

SCREEN_CLASSES: dict[Screen, tuple[str, str]] = {
    Screen.ATTRACT: ("attract", "AttractScreen"),
    Screen.TAKE_CARD: ("take_card", "TakeCardScreen"),
    Screen.INSERT_CARD: ("insert_card", "InsertCardScreen"),
    Screen.READING: ("reading", "ReadingScreen"),
    Screen.PIN_ENTRY: ("pin_entry", "PinEntryScreen"),
    Screen.VERIFYING: ("verifying", "VerifyingScreen"),
    Screen.RESULT: ("result", "ResultScreen"),
    Screen.GO_TO_COUNTER: ("go_to_counter", "GoToCounterScreen"),
    Screen.ERROR: ("error", "ErrorScreen"),
    Screen.ID_SCAN: ("id_scan", "IdScanScreen"),
    Screen.ID_KEYPAD: ("id_keypad", "IdKeypadScreen"),
    Screen.ID_CONFIRM: ("id_confirm", "IdConfirmScreen"),
    Screen.PHOTO: ("photo", "PhotoScreen"),
    Screen.PHOTO_REVIEW: ("photo_review", "PhotoReviewScreen"),
    Screen.DETAILS: ("details", "DetailsScreen"),
    Screen.TEXT_ENTRY: ("text_entry", "TextEntryScreen"),
    Screen.REVIEW: ("review", "ReviewScreen"),
    Screen.WORKING: ("working", "WorkingScreen"),
    Screen.RECEIPT: ("receipt", "ReceiptScreen"),
    Screen.STATUS_RESULT: ("status_result", "StatusResultScreen"),
    Screen.RENEWAL_CHECK: ("renewal_check", "RenewalCheckScreen"),
    Screen.CLERK_SIGN_IN: ("clerk_sign_in", "ClerkSignInScreen"),
    Screen.SUPERVISOR: ("clerk_sign_in", "SupervisorScreen"),
    Screen.CLERK_HOME: ("clerk_home", "ClerkHomeScreen"),
    Screen.PICKUP_APPLICATION: ("pickup_card", "PickupApplicationScreen"),
    Screen.PICKUP_CHECKS: ("pickup_card", "PickupChecksScreen"),
    Screen.PICKUP_STOPPED: ("pickup_card", "PickupStoppedScreen"),
    Screen.PIN_SETUP: ("pin_setup", "PinSetupScreen"),
    Screen.PICKUP_COMPARE: ("pickup_compare", "PickupCompareScreen"),
    Screen.PICKUP_FINISH: ("pickup_finish", "PickupFinishScreen"),
    Screen.PICKUP_DONE: ("pickup_finish", "PickupDoneScreen"),
    Screen.PIN_SERVICES: ("pin_services", "PinServicesScreen"),
    Screen.PIN_CHANGE: ("pin_change", "PinChangeScreen"),
    Screen.PIN_CHANGE_RESULT: ("pin_services", "PinChangeResultScreen"),
    Screen.PIN_RESET_GUIDE: ("pin_services", "PinResetGuideScreen"),
}


def screen_class(screen: Screen) -> type:
    module_name, class_name = SCREEN_CLASSES[screen]
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)
