""""Call staff" reaches someone: the channel against the reference server over loopback HTTPS, a real
command hook (a script that records its environment) and a real HTTPS webhook receiver.

What must hold: the caller's thread never waits; "sent" as soon as one channel confirmed, "failed" only when
none did; a cancel undoes exactly what was done (and drops a call that was never sent); ``stop()`` leaves
no thread behind; nothing about the resident is ever passed on — the channel is never given any.
"""

from __future__ import annotations

import inspect
import json
import logging
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from kiosk.config import ConfigError, StaffCallSection, parse_config
from kiosk.core.events import StaffCallUpdated
from kiosk.services.central import CentralClient
from kiosk.services.staff_call import StaffCallChannel
from tests.services import synthetic
from tests.services.certs import LoopbackPki
from tests.services.fake_central import FakeCentral, wait_until
from tests.services.real_central import KIOSK_ID, RealCentral, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

HOOK = """\
import json, os, sys
with open(sys.argv[1], "a", encoding="utf-8") as out:
    out.write(json.dumps(dict(os.environ)) + "\\n")
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
"""
HOOK_ENV = {"KIOSK_ID", "STAFF_CALL", "STAFF_CALL_ID", "STAFF_CALL_AT", "PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT",
            # set by the C runtime / Python itself in the child, not passed by the channel
            "LC_CTYPE", "__CF_USER_TEXT_ENCODING"}


# --- test doubles that are real: a recording post, a hook script, an HTTPS webhook receiver ---------------


class Updates:
    """The UI's ``post``: records what the channel reports, from whichever thread."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self._changed = threading.Condition()

    def __call__(self, event: StaffCallUpdated) -> None:
        assert isinstance(event, StaffCallUpdated)
        with self._changed:
            self.statuses.append(event.status)
            self._changed.notify_all()

    def wait_for(self, *statuses: str, timeout: float = 20.0) -> list[str]:
        with self._changed:
            self._changed.wait_for(lambda: self.statuses[: len(statuses)] == list(statuses), timeout)
            return list(self.statuses)


class Webhook:
    """An HTTPS receiver (the services PKI's server certificate) that records each POST's JSON body."""

    def __init__(self, pki: LoopbackPki, status: int = 204) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.server_cert, pki.server_key)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.bodies.append(json.loads(raw))
                hook.headers.append(dict(self.headers))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = False
        self._httpd.block_on_close = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="test-webhook", daemon=False)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}/hooks/counter"

    def events(self) -> list[str]:
        return [b["event"] for b in self.bodies]

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RealCentral]:
    server = RealCentral(tmp_path / "server").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhook(pki: LoopbackPki) -> Iterator[Webhook]:
    receiver = Webhook(pki)
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def hook(tmp_path: Path) -> Callable[..., tuple[tuple[str, ...], Path]]:
    script = tmp_path / "record_env.py"
    script.write_text(HOOK, encoding="utf-8")

    def make(exit_status: int = 0, name: str = "hook-env.jsonl") -> tuple[tuple[str, ...], Path]:
        record = tmp_path / name
        return (sys.executable, str(script), str(record), str(exit_status)), record

    return make


def hook_runs(record: Path) -> list[dict[str, str]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def channels() -> Iterator[Callable[..., StaffCallChannel]]:
    made: list[StaffCallChannel] = []

    def make(post: Updates, factory: Callable[[], Any], **options: Any) -> StaffCallChannel:
        options.setdefault("timeout_seconds", 5.0)
        channel = StaffCallChannel(post, client_factory=factory, kiosk_id=KIOSK_ID, **options).start()
        made.append(channel)
        return channel

    yield make
    for channel in made:
        assert channel.stop(10)


def central_factory(real_or_url: RealCentral | str, pki: LoopbackPki | None = None) -> Callable[[], CentralClient]:
    """Clients made on the channel's worker (as the kiosk does), closed by the channel."""
    if isinstance(real_or_url, RealCentral):
        url, options = real_or_url.url, real_or_url.client_options()
    else:
        assert pki is not None
        url = real_or_url
        options = {"ca_bundle": pki.ca_cert, "client_cert": pki.client_cert, "client_key": pki.client_key}

    def factory() -> CentralClient:
        return CentralClient(url, connect_timeout=1.0, read_timeout=3.0, **options)

    return factory


# --- the tests -------------------------------------------------------------------------------------------


def test_a_call_reaches_the_server_the_hook_and_the_webhook(real, webhook, hook, channels, pki) -> None:
    updates = Updates()
    command, record = hook()
    channel = channels(updates, central_factory(real), hook_command=command, webhook_url=webhook.url,
                       webhook_ca_bundle=str(pki.ca_cert))
    channel(True)
    assert updates.wait_for("sent") == ["sent"]  # one report, on the first channel that confirmed
    assert wait_until(lambda: len(webhook.bodies) == 1 and len(real.staff_calls()) == 1)
    [env] = hook_runs(record)
    call_id = env["STAFF_CALL_ID"]
    assert (env["KIOSK_ID"], env["STAFF_CALL"]) == (KIOSK_ID, "call")
    assert real.staff_call_status(call_id) == "open"
    [body] = webhook.bodies
    assert set(body) == {"kiosk_id", "event", "at"} and (body["kiosk_id"], body["event"]) == (KIOSK_ID, "call")
    assert body["at"] == env["STAFF_CALL_AT"] and body["at"].endswith("Z")
    assert wait_until(lambda: len(hook_runs(record)) == 1 and len(webhook.bodies) == 1)


def test_presses_while_a_call_is_on_its_way_are_one_call_and_a_later_press_a_new_one(real, channels) -> None:
    entered, release = threading.Event(), threading.Event()
    factory = central_factory(real)

    def slow_factory() -> CentralClient:
        entered.set()
        release.wait(10)
        return factory()

    updates = Updates()
    channel = channels(updates, slow_factory)
    channel(True)
    assert entered.wait(5)
    channel(True)  # impatient presses while the first is in flight
    channel(True)
    release.set()
    assert updates.wait_for("sent") == ["sent"]
    assert not wait_until(lambda: len(real.staff_calls()) > 1, timeout=0.3)
    # The session ended without a cancel (the shell forgets the call; it stays open for the staff); the
    # next resident's press must reach someone again, not be swallowed by the old call.
    channel(True)
    assert updates.wait_for("sent", "sent") == ["sent", "sent"]
    assert wait_until(lambda: [row[3] for row in real.staff_calls()] == ["open", "open"])


def test_the_caller_never_waits(real, channels) -> None:
    entered, release = threading.Event(), threading.Event()
    factory = central_factory(real)

    def slow_factory() -> CentralClient:
        entered.set()
        release.wait(10)
        return factory()

    updates = Updates()
    channel = channels(updates, slow_factory)
    started = time.monotonic()
    channel(True)
    returned_after = time.monotonic() - started
    assert entered.wait(5)
    assert returned_after < 2.0  # the worker is stuck for 10 s; the caller (the UI thread) is not
    release.set()
    assert updates.wait_for("sent") == ["sent"]


def test_cancel_takes_the_call_back_everywhere_it_went(real, webhook, hook, channels, pki) -> None:
    updates = Updates()
    command, record = hook()
    channel = channels(updates, central_factory(real), hook_command=command, webhook_url=webhook.url,
                       webhook_ca_bundle=str(pki.ca_cert))
    channel(True)
    updates.wait_for("sent")
    assert wait_until(lambda: len(webhook.bodies) == 1)
    channel(False)
    assert updates.wait_for("sent", "cancelled") == ["sent", "cancelled"]
    runs = hook_runs(record)
    assert [r["STAFF_CALL"] for r in runs] == ["call", "cancel"]
    assert runs[0]["STAFF_CALL_ID"] == runs[1]["STAFF_CALL_ID"]
    assert webhook.events() == ["call", "cancel"]
    assert real.staff_call_status(runs[0]["STAFF_CALL_ID"]) == "cancelled"
    channel(True)  # a new press after a cancel is a new call
    assert updates.wait_for("sent", "cancelled", "sent")[-1] == "sent"
    assert wait_until(lambda: len(real.staff_calls()) == 2)


def test_a_cancel_for_a_call_never_delivered_just_drops_it(real, hook, channels) -> None:
    entered, release = threading.Event(), threading.Event()
    factory = central_factory(real)

    def gated_factory() -> CentralClient:
        entered.set()
        release.wait(10)
        return factory()

    updates = Updates()
    command, record = hook()
    channel = channels(updates, gated_factory, hook_command=command)
    channel(True)  # the first call is in flight (the hook ran, the server's client is being made)...
    assert entered.wait(5)
    channel(False)
    channel(True)  # ... the second one waits in the queue ...
    channel(False)  # ... and is taken back before anyone was told
    release.set()
    # "sent" for the first (its hook confirmed before the take-back), then one "cancelled" per take-back.
    assert updates.wait_for("sent", "cancelled", "cancelled") == ["sent", "cancelled", "cancelled"]
    rows = real.staff_calls()
    assert len(rows) == 1  # only the call in flight reached the server, and it was taken back there
    assert real.staff_call_status(rows[0][1]) == "cancelled"
    runs = hook_runs(record)
    assert [(r["STAFF_CALL"], r["STAFF_CALL_ID"]) for r in runs] == [("call", rows[0][1]), ("cancel", rows[0][1])]


def test_server_down_is_failed_and_a_new_press_tries_again(real, channels) -> None:
    real.stop()
    updates = Updates()
    channel = channels(updates, central_factory(real))
    channel(True)
    assert updates.wait_for("failed") == ["failed"]
    real.start()
    channel(True)  # the resident presses again: a new call, and this time it lands
    assert updates.wait_for("failed", "sent") == ["failed", "sent"]
    assert len(real.staff_calls()) == 1
    channel(False)  # after a failure a cancel has nothing to undo but still answers
    assert updates.wait_for("failed", "sent", "cancelled")[-1] == "cancelled"


def test_server_500_fails_unless_the_hook_worked(central: FakeCentral, pki, hook, channels) -> None:
    central.mode = "error500"
    factory = central_factory(central.url, pki)
    alone = Updates()
    channels(alone, factory)(True)
    assert alone.wait_for("failed") == ["failed"]

    broken_command, broken_record = hook(exit_status=3, name="broken.jsonl")
    broken = Updates()
    channels(broken, factory, hook_command=broken_command)(True)
    assert broken.wait_for("failed") == ["failed"]
    assert len(hook_runs(broken_record)) == 1

    command, record = hook()
    rescued = Updates()
    channels(rescued, factory, hook_command=command)(True)
    assert rescued.wait_for("sent") == ["sent"]
    assert [r["STAFF_CALL"] for r in hook_runs(record)] == ["call"]


def test_a_hook_that_hangs_is_killed_at_the_timeout(tmp_path: Path, central: FakeCentral, pki, channels) -> None:
    central.mode = "error500"
    script = tmp_path / "hang.py"
    script.write_text("import time\ntime.sleep(60)\n", encoding="utf-8")
    updates = Updates()
    started = time.monotonic()
    channels(updates, central_factory(central.url, pki), hook_command=(sys.executable, str(script)),
             timeout_seconds=0.5)(True)
    assert updates.wait_for("failed") == ["failed"]
    assert time.monotonic() - started < 8


def test_the_webhook_alone_can_carry_the_call_and_its_tls_is_verified(central: FakeCentral, pki, webhook,
                                                                      channels) -> None:
    central.mode = "error500"
    factory = central_factory(central.url, pki)
    trusting = Updates()
    channels(trusting, factory, webhook_url=webhook.url, webhook_ca_bundle=str(pki.ca_cert))(True)
    assert trusting.wait_for("sent") == ["sent"]
    assert webhook.headers[0]["Content-Type"] == "application/json"
    # Without the city's CA (the system trust store does not know the test CA) the webhook is refused.
    untrusting = Updates()
    channels(untrusting, factory, webhook_url=webhook.url)(True)
    assert untrusting.wait_for("failed") == ["failed"]
    assert len(webhook.bodies) == 1
    webhook.status = 500
    refused = Updates()
    channels(refused, factory, webhook_url=webhook.url, webhook_ca_bundle=str(pki.ca_cert))(True)
    assert refused.wait_for("failed") == ["failed"]


def test_stop_joins_the_worker_and_later_presses_fail_at_once(real) -> None:
    updates = Updates()
    channel = StaffCallChannel(updates, client_factory=central_factory(real), kiosk_id=KIOSK_ID).start()
    assert channel.alive and channel.stop(10) and not channel.alive
    assert not any(t.name == "staff-call" for t in threading.enumerate())
    channel(True)
    assert updates.statuses == ["failed"]  # told at once: the resident must not wait for nobody
    assert StaffCallChannel(updates, client_factory=central_factory(real), kiosk_id=KIOSK_ID).stop()  # never started


def test_configuration_mistakes_are_refused_when_the_channel_is_built(real) -> None:
    factory = central_factory(real)
    for options, match in (({"webhook_url": "http://chat.example.invalid/hook"}, "https"),
                           ({"webhook_url": "https://"}, "https"),
                           ({"hook_command": ("",)}, "hook_command"),
                           ({"timeout_seconds": 0}, "timeout"),
                           ({"kiosk_id": ""}, "kiosk")):
        with pytest.raises(ValueError, match=match):
            StaffCallChannel(Updates(), client_factory=factory, **{"kiosk_id": KIOSK_ID, **options})


def test_nothing_personal_is_sent_anywhere(real, webhook, hook, channels, pki, monkeypatch, caplog) -> None:
    """The channel has no way to receive resident data (its only inputs are a kiosk id and True/False);
    and what the kiosk process happens to hold in its environment does not reach the hook either."""
    parameters = set(inspect.signature(StaffCallChannel).parameters)
    assert parameters == {"post", "client_factory", "kiosk_id", "hook_command", "webhook_url", "timeout_seconds",
                          "webhook_ca_bundle", "clock", "name"}
    needles = synthetic.personal_needles(synthetic.application(7))
    monkeypatch.setenv("RESIDENT_NAME", synthetic.NAME)
    monkeypatch.setenv("RESIDENT_EMAIL", synthetic.EMAIL)
    caplog.set_level(logging.DEBUG)
    updates = Updates()
    command, record = hook()
    channel = channels(updates, central_factory(real), hook_command=command, webhook_url=webhook.url,
                       webhook_ca_bundle=str(pki.ca_cert))
    channel(True)
    updates.wait_for("sent")
    assert wait_until(lambda: len(webhook.bodies) == 1)
    channel(False)
    updates.wait_for("sent", "cancelled")

    runs = hook_runs(record)
    assert len(runs) == 2 and all(set(run) <= HOOK_ENV for run in runs), [sorted(run) for run in runs]
    assert all(set(body) == {"kiosk_id", "event", "at"} for body in webhook.bodies)
    [row] = real.staff_calls()
    assert len(row) == 9  # id, call_id, kiosk_id, status, called_at, received_at, cancelled_at, ack at/by
    sent = json.dumps(runs) + json.dumps(webhook.bodies) + repr(row) + caplog.text
    for name, needle in needles.items():
        assert needle.decode("utf-8", "ignore") not in sent, name


def test_the_staff_call_section_configures_the_channel(real, hook, tmp_path: Path) -> None:
    command, record = hook()
    config = parse_config({
        "kiosk": {"id": KIOSK_ID},
        "server": {"url": real.url, "ca_bundle": str(real.ca_cert), "client_cert": str(real.client_cert),
                   "client_key": str(real.client_key)},
        "staff_call": {"hook_command": list(command), "timeout_seconds": 3},
    }, tmp_path / "kiosk.toml")
    assert config.staff_call == StaffCallSection(hook_command=command, webhook_url="", timeout_seconds=3.0)
    assert parse_config({}).staff_call == StaffCallSection()
    with pytest.raises(ConfigError, match="hook_command"):
        parse_config({"staff_call": {"hook_command": "/usr/local/bin/buzzer --loud"}})  # argv, not a shell line
    updates = Updates()
    channel = StaffCallChannel.from_config(config, updates).start()
    try:
        channel(True)
        assert updates.wait_for("sent") == ["sent"]
        assert wait_until(lambda: len(real.staff_calls()) == 1)
    finally:
        assert channel.stop(10)
    assert [r["KIOSK_ID"] for r in hook_runs(record)] == [KIOSK_ID]
