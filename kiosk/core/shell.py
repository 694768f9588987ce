"""The kiosk shell: the session around every task, and the one machine the UI follows.

The shell owns what is the same whatever the person is doing — the attract screen with the tasks that
exist, the language and display preferences, spoken guidance on/off, the idle warning and time-out, the
reader's state, the card's presence, "call staff", and the end of a session — and hosts one flow at a time
(``kiosk.core.flows``) for the task itself. Events come in (``handle``), one immutable ``ViewState`` goes
out (``state`` and ``subscribe``), made of the shell's fields and the active flow's view.

Decisions that live here (and only here):

* **A card left on the reader is not the next person's.** When a session ends (done, cancel, idle) with a
  card still in, the kiosk shows "take your card" and says it again every ``TAKE_CARD_REMINDER_SECONDS``
  until the card is removed; touches do nothing meanwhile. A new session starts only with a fresh
  insertion (or a touch on the attract screen once the reader is empty).
* **The wipe.** Ending a session wipes the flow (personal data, typed input, tickets) and the session
  (``Session.end``), and changes the session id, so the UI drops everything it showed.
* **Stale results never reach anyone.** Card results arriving while no flow waits for them are wiped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.mynumber.pinpolicy import POLICIES, PinPolicy
from kiosk.config import KioskConfig
from kiosk.core import messages as m
from kiosk.core.dispatch import Clock, Dispatcher
from kiosk.core.events import (
    CallStaff,
    CameraResult,
    Cancel,
    CancelStaffCall,
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    CodeScanned,
    Event,
    KeyTyped,
    LanguageChosen,
    MoreTime,
    ReaderChanged,
    ServiceChanged,
    StaffCallUpdated,
    Start,
    TaskFailed,
    TaskResult,
    Tick,
    ToggleHighContrast,
    ToggleLargeText,
    ToggleSpeech,
    Touched,
)
from kiosk.core.flows import APPLICATION, COUNTER_TASKS, TASKS, Flow, FlowView
from kiosk.core.ports import Camera, CardJobs, Task, TaskJobs, wipe_if_personal
from kiosk.core.session import Session
from kiosk.core.view import ReaderState, Screen, ViewState
from kiosk.core.wedge import WedgeBuffer

LOG = logging.getLogger(__name__)

TAKE_CARD_REMINDER_SECONDS = 10.0
_NOT_USABLE = frozenset({ReaderState.NO_READER, ReaderState.READER_LOST, ReaderState.SERVICE_DOWN})

FlowFactory = Callable[["Shell"], Flow]
StaffCaller = Callable[[bool], None]  # True: call staff, False: take the call back (kiosk.services.staff_call)


class _NoTasks:
    """A kiosk built without a task worker: any disk or network task fails at once, truthfully."""

    def submit(self, task: Task[object]) -> int:
        task.wipe()
        raise RuntimeError("this kiosk has no task worker (no outbox or central server configured)")


class Shell:
    """``handle(event)`` on the dispatcher's thread; ``state`` is the latest ``ViewState``.

    ``flows`` maps each task this kiosk offers to a factory ``shell -> Flow``; the attract screen lists
    them in ``TASKS`` order. ``staff_caller`` reaches a person (see ``kiosk.services.staff_call``); its
    answer comes back as ``StaffCallUpdated``.
    """

    def __init__(self, dispatcher: Dispatcher, card_jobs: CardJobs, clock: Clock, config: KioskConfig, *,
                 flows: dict[str, FlowFactory], staff_caller: StaffCaller | None = None,
                 tasks: TaskJobs | None = None, camera: Camera | None = None) -> None:
        self._jobs = card_jobs
        self._tasks = tasks if tasks is not None else _NoTasks()
        self._camera = camera
        self._wedge = WedgeBuffer()
        self._clock = clock
        self._config = config
        self._languages = config.kiosk.languages or ("ja",)
        self._policy = POLICIES[config.kiosk.mode]
        self._session = Session.from_timeouts(config.timeouts, self._languages[0])
        # A counter kiosk hosts the clerk's tasks only, and one of them is always on (its "attract" screen is
        # the clerk's sign-in); a resident kiosk never hosts them, whatever the factories offered.
        counter = config.kiosk.station == "counter"
        offered = COUNTER_TASKS if counter else TASKS
        self._flows = {task: flows[task] for task in offered if task in flows}
        self._home = next(iter(self._flows), None) if counter else None
        self._staff_caller = staff_caller
        self._reader = ReaderState.NO_READER
        self._card_present = False
        self._insertion = 0
        self._active: Flow | None = None
        self._screen = Screen.ATTRACT
        self._in_service = True  # False once an operator disabled this kiosk (ServiceChanged)
        self._staff_call: str | None = None
        self._reminders = 0
        self._next_reminder: float | None = None
        self._subscribers: list[Callable[[ViewState], None]] = []
        self._handlers: dict[type[Event], Callable[[Event], None]] = {
            Tick: self._on_tick, Touched: self._on_touched, Start: self._on_start,
            ReaderChanged: self._on_reader_changed, CardInserted: self._on_card_inserted,
            CardRemoved: self._on_card_removed, CardResult: self._on_outcome, CardFailed: self._on_outcome,
            TaskResult: self._on_outcome, TaskFailed: self._on_outcome, CameraResult: self._on_outcome,
            KeyTyped: self._on_key_typed, CodeScanned: self._on_code_scanned,
            Cancel: self._on_cancel, MoreTime: self._on_more_time, CallStaff: self._on_call_staff,
            CancelStaffCall: self._on_cancel_staff_call, StaffCallUpdated: self._on_staff_call_updated,
            ServiceChanged: self._on_service_changed, LanguageChosen: self._on_language,
            ToggleLargeText: self._on_toggle_large_text, ToggleHighContrast: self._on_toggle_high_contrast,
            ToggleSpeech: self._on_toggle_speech,
        }
        self._go_home()
        self.state = self._view()
        connect = getattr(dispatcher, "connect", None)
        if callable(connect):  # SyncDispatcher; the UI's dispatcher is built around shell.handle instead
            connect(self.handle)

    # --- what flows see (FlowHost) ----------------------------------------------------------------------

    @property
    def config(self) -> KioskConfig:
        return self._config

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def jobs(self) -> CardJobs:
        return self._jobs

    @property
    def tasks(self) -> TaskJobs:
        return self._tasks

    @property
    def camera(self) -> Camera | None:
        return self._camera

    @property
    def policy(self) -> PinPolicy:
        return self._policy

    @property
    def session(self) -> Session:
        return self._session

    @property
    def reader(self) -> ReaderState:
        return self._reader

    @property
    def reader_usable(self) -> bool:
        return self._reader not in _NOT_USABLE

    @property
    def card_present(self) -> bool:
        return self._card_present

    @property
    def insertion(self) -> int:
        return self._insertion

    @property
    def task_names(self) -> tuple[str, ...]:
        """The tasks this kiosk offers, in the attract screen's order."""
        return tuple(self._flows)

    def end_session(self) -> None:
        """Back to the start for the next person: everything wiped, preferences reset."""
        LOG.info("session %d ended", self._session.id)
        self._stop_flow()
        self._staff_call = None  # a call already made stays open for the staff; the screen forgets it
        self._session.end()
        if self._card_present:
            self._screen = Screen.TAKE_CARD
            self._reminders = 0
            self._next_reminder = self._clock.now() + TAKE_CARD_REMINDER_SECONDS
        else:
            self._screen = Screen.ATTRACT
            self._go_home()

    def _go_home(self) -> None:
        """On a counter kiosk the home task is always on: it starts again whenever a session ends."""
        if self._home is not None and self._active is None:
            self._start(self._home)

    def restart_for_same_person(self) -> None:
        """Wiped and a new session id, but the display preferences stay (the same person is still there)."""
        self._session.end(keep_preferences=True)
        self._session.begin(self._clock.now())

    # --- events -----------------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[ViewState], None]) -> Callable[[], None]:
        """``callback(state)`` after every change; returns the function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def handle(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)
        elif self._active is not None:
            self._active.handle(event)
        self._publish()

    def _forward(self, event: Event) -> None:
        if self._active is not None:
            self._active.handle(event)

    def _on_tick(self, event: Tick) -> None:
        self._forward(event)
        if self._screen is Screen.TAKE_CARD:
            if self._next_reminder is not None and event.now >= self._next_reminder:
                self._reminders += 1
                self._next_reminder = event.now + TAKE_CARD_REMINDER_SECONDS
            return
        if self._session.idle(event.now).expired:
            LOG.info("session %d ended after the idle time-out", self._session.id)
            self.end_session()

    def _activity(self) -> None:
        self._session.touch(self._clock.now())

    def _on_touched(self, event: Touched) -> None:
        if self._screen is Screen.TAKE_CARD:
            return  # nothing starts until the card is taken
        self._activity()
        if self._active is None and len(self._flows) == 1 and self._in_service:
            self._start(next(iter(self._flows)))  # one task: a touch anywhere starts it
        self._forward(event)

    def _on_service_changed(self, event: ServiceChanged) -> None:
        """Out of service: a session under way finishes (its applications wait in the outbox); no new one
        starts, and the attract screen says so. Back in service: the tasks are offered again."""
        LOG.info("this kiosk is %s", "back in service" if event.in_service else "out of service (disabled)")
        self._in_service = event.in_service

    def _on_start(self, event: Start) -> None:
        if self._screen is Screen.TAKE_CARD:
            return
        if not self._in_service and self._active is None:
            return
        self._activity()
        if self._active is None:
            self._start(event.task)
        else:
            self._forward(event)

    def _start(self, task: str) -> None:
        factory = self._flows.get(task)
        if factory is None:
            LOG.warning("task %r is not offered by this kiosk", task)
            return
        self._active = factory(self)
        self._active.begin()

    def _stop_flow(self) -> None:
        flow, self._active = self._active, None
        if flow is not None:
            flow.wipe()

    def _on_reader_changed(self, event: ReaderChanged) -> None:
        try:
            state = ReaderState(event.state)
        except ValueError:
            LOG.warning("unknown reader state %r ignored", event.state)
            return
        self._reader = state
        if state in _NOT_USABLE and self._card_present:
            self._card_present = False
            self._card_gone(CardRemoved(event.reader or ""))
        self._forward(event)

    def _on_card_inserted(self, event: CardInserted) -> None:
        self._card_present = True
        self._insertion = event.insertion
        if self._screen is Screen.TAKE_CARD:
            return  # the same card, seen again (a reader reset): still waiting for it to be taken
        self._activity()
        if self._active is None:
            if not self._in_service:
                return  # the attract screen says the kiosk is out of service
            self._start(next(iter(self._flows)))  # a card on the attract screen: the card task
        else:
            self._active.handle(event)

    def _on_card_removed(self, event: CardRemoved) -> None:
        self._card_present = False
        self._card_gone(event)

    def _card_gone(self, event: CardRemoved) -> None:
        if self._screen is Screen.TAKE_CARD:
            self._screen = Screen.ATTRACT
            self._next_reminder = None
            self._go_home()
            return
        if self._active is not None:
            self._active.handle(event)
        else:
            self._session.wipe_personal_data()

    def _on_outcome(self, event: CardResult | CardFailed | TaskResult | TaskFailed | CameraResult) -> None:
        if self._active is not None:
            self._active.handle(event)
        elif isinstance(event, CardResult | TaskResult | CameraResult):
            wipe_if_personal(event.result)  # nobody waits for it any more

    def _on_key_typed(self, event: KeyTyped) -> None:
        """A barcode scanner types like a keyboard: a burst ending in CR/LF/Tab is one code."""
        code = self._wedge.feed(event.char, self._clock.now())
        if code is not None:
            self._on_code_scanned(CodeScanned(code, "scanner"))

    def _on_code_scanned(self, event: CodeScanned) -> None:
        if self._screen is Screen.TAKE_CARD:
            return
        self._activity()
        if self._active is None and APPLICATION in self._flows:
            self._start(APPLICATION)  # a form scanned on the attract screen: the application
        self._forward(event)

    def _on_cancel(self, _event: Cancel) -> None:
        if self._screen is Screen.TAKE_CARD:
            return  # already over; waiting for the card
        if self._active is None and not self._session.active:
            return  # nothing to end: keep the session id (the UI drops its caches when it changes)
        LOG.info("session %d cancelled", self._session.id)
        self.end_session()

    def _on_more_time(self, _event: MoreTime) -> None:
        self._activity()

    def _on_call_staff(self, _event: CallStaff) -> None:
        self._activity()
        self._session.staff_called = True
        self._staff_call = "sending" if self._staff_caller is not None else "sent"
        self._call_staff(True)

    def _on_cancel_staff_call(self, _event: CancelStaffCall) -> None:
        self._activity()
        if self._staff_call is None:
            return
        self._session.staff_called = False
        self._staff_call = None
        self._call_staff(False)

    def _call_staff(self, call: bool) -> None:
        if self._staff_caller is None:
            LOG.warning("no staff-call channel configured")
            return
        try:
            self._staff_caller(call)
        except Exception as exc:
            LOG.error("calling staff failed: %s", type(exc).__name__)
            if call:
                self._staff_call = "failed"

    def _on_staff_call_updated(self, event: StaffCallUpdated) -> None:
        if self._staff_call is None and event.status != "cancelled":
            return  # an answer for a call already taken back or from the previous person
        if event.status == "cancelled":
            self._staff_call = None
        elif event.status in ("sent", "failed"):
            self._staff_call = event.status

    def _on_language(self, event: LanguageChosen) -> None:
        self._activity()
        if event.code in self._languages:
            self._session.prefs.language = event.code
        else:
            LOG.warning("language %r is not offered by this kiosk", event.code)

    def _on_toggle_large_text(self, _event: ToggleLargeText) -> None:
        self._activity()
        self._session.prefs.large_text = not self._session.prefs.large_text

    def _on_toggle_high_contrast(self, _event: ToggleHighContrast) -> None:
        self._activity()
        self._session.prefs.high_contrast = not self._session.prefs.high_contrast

    def _on_toggle_speech(self, _event: ToggleSpeech) -> None:
        self._activity()
        self._session.prefs.speech = not self._session.prefs.speech

    # --- the view ---------------------------------------------------------------------------------------

    def _publish(self) -> None:
        state = self._view()
        if state == self.state:
            return
        self.state = state
        for callback in list(self._subscribers):
            try:
                callback(state)
            except Exception:
                LOG.exception("a view-state subscriber failed")

    def _reader_view(self) -> ReaderState:
        if self._reader in _NOT_USABLE:
            return self._reader
        if self._card_present and self._active is not None and self._active.view().not_my_number:
            return ReaderState.NOT_MY_NUMBER
        if self._card_present:
            return ReaderState.CARD_PRESENT
        return ReaderState.READY if self._reader is ReaderState.CARD_PRESENT else self._reader

    def _view(self) -> ViewState:
        prefs = self._session.prefs
        if self._active is not None:
            flow = self._active.view()
        elif self._screen is Screen.TAKE_CARD:
            flow = FlowView(Screen.TAKE_CARD, m.Message(m.TAKE_CARD))
        elif not self._in_service:
            flow = FlowView(Screen.ATTRACT, m.Message(m.OUT_OF_SERVICE))
        else:
            flow = FlowView(Screen.ATTRACT)
        message = flow.message
        return ViewState(
            screen=flow.screen,
            language=prefs.language,
            reader=self._reader_view(),
            large_text=prefs.large_text,
            high_contrast=prefs.high_contrast,
            speech=prefs.speech,
            message_key=message.key if message is not None else None,
            message_args=message.args_dict() if message is not None else {},
            busy=flow.busy,
            pin=flow.pin,
            result=flow.result,
            idle_warning=self._session.warning,
            staff_called=self._staff_call in ("sending", "sent"),
            staff_call=self._staff_call,
            session_id=self._session.id,
            tasks=self.task_names if flow.screen is Screen.ATTRACT and self._in_service else (),
            reminder=self._reminders if flow.screen is Screen.TAKE_CARD else 0,
            id_entry=flow.id_entry,
            photo=flow.photo,
            application=flow.application,
            receipt=flow.receipt,
            status=flow.status,
            renewal=flow.renewal,
            clerk=flow.clerk,
            pickup=flow.pickup,
            pin_services=flow.pin_services,
        )


__all__ = ["TAKE_CARD_REMINDER_SECONDS", "FlowFactory", "Shell", "StaffCaller"]
