"""``GET /metrics``: Prometheus text from the maintained ``prometheus_client`` library.

What is counted, in the process that answers a request (``MetricsMiddleware``): requests by route
*template*, method and status, and their duration as a histogram per route template and method. Never the
raw path — it can hold an application id — and never a value from a body; a path no route matches is
``<unmatched>``, a method outside the HTTP verbs ``OTHER``, so no client can grow the label sets.

What is read from the database when scraped (``DatabaseCollector``; one short read-only transaction, by the
worker that answers the scrape): applications by status, photo checks pending and the oldest one's age,
applications and renewals received in the last hour (what the kiosks' outboxes delivered), kiosks by state
and by health (``server/fleet.py`` judges them, as for ``GET /v1/kiosks``), open staff calls and the oldest
one's age, the CRLs (how old the newest is, how long until the first one passes its nextUpdate), and whether
the database answered at all. Plus build information. Counts and ages
only: no label holds an id, a name or anything a resident typed (a test scrapes after submissions).

Several workers (``kiosk server serve --workers N``): each worker's counters live in memory-mapped files in
one private directory (``prometheus_client``'s multiprocess mode; ``multiprocess_directory`` makes it, 0700,
before the workers are forked, and deletes it when the server stops), and whichever worker answers a scrape
adds up every worker's files, so a count is the server's, not one worker's. The library decides at its
import whether it runs in that mode (from ``PROMETHEUS_MULTIPROC_DIR``), so this module imports it only
inside functions, after ``serve`` has set the variable; ``multiprocess_directory`` refuses to run when the
library was imported earlier. In one process (tests, the demo) each app has its own counters.

Who may scrape (``[metrics]``): peers whose address is in ``allow`` (default: this machine only) and, with
``token_file``, only with ``Authorization: Bearer <token>``; others get 403 ``metrics_forbidden``.
``enabled = false`` answers 404. The scraper's TLS session is the server's (``client_cert = "optional"`` lets
it connect without a kiosk certificate; with ``"required"`` it needs one, see server/README.md).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, MutableMapping
from datetime import datetime, timedelta
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from server import fleet
from server.db import head_revision
from server.deps import ContextDep, ServerContext
from server.errors import error_response
from server.lifecycle import STATES
from server.logs import route_template
from server.models import Application, Kiosk, Renewal, RevocationList, StaffCall
from server.settings import Settings
from server.tls import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:  # imported for real only inside functions: see the module docstring
    from prometheus_client import Counter, Histogram
    from prometheus_client.core import Metric

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_DIRECTORY_PREFIX = "kiosk-server-metrics-"
PREFIX = "kiosk_server"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds. A status lookup takes ~1 ms, an application with a 7 MB photo up to a few hundred; the top buckets
# catch a stuck database.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
log = logging.getLogger("server.metrics")


# --- the multiprocess directory (serve) --------------------------------------------------------------------


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[str]:
    """A private (0700) directory for the workers' metric files, named in ``PROMETHEUS_MULTIPROC_DIR`` for
    the processes forked inside the block; removed after it. Every run starts with an empty one, as the
    library requires (a previous run's files would add old counts)."""
    if "prometheus_client" in sys.modules and MULTIPROCESS_ENV not in os.environ:
        raise RuntimeError(
            "prometheus_client was imported before the metrics directory was set: counters of several "
            "workers would not add up (import it only after serve() has started)"
        )
    _sweep_stale_directories()
    directory = tempfile.mkdtemp(prefix=f"{_DIRECTORY_PREFIX}{os.getpid()}-")  # mkdtemp: 0700, a fresh name
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def _sweep_stale_directories() -> None:
    """Remove the directories of servers that were killed outright (SIGKILL, a crash: no ``finally`` ran) —
    this user's, named after a process that no longer exists — so they do not pile up in ``$TMPDIR``.
    (Under systemd ``PrivateTmp=`` drops them anyway.)"""
    stale = re.compile(re.escape(_DIRECTORY_PREFIX) + r"(\d+)-")
    base = Path(tempfile.gettempdir())
    for entry in base.glob(f"{_DIRECTORY_PREFIX}*"):
        found = stale.match(entry.name)
        try:
            if found is None or entry.is_symlink() or entry.stat().st_uid != os.geteuid():
                continue
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except (OSError, OverflowError):
            continue  # alive under another user (PermissionError), or gone meanwhile


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_ENV))


# --- request counters (every process) ----------------------------------------------------------------------


class RequestMetrics:
    """This app's request counter and latency histogram; ``render`` produces the scrape."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.multiprocess = multiprocess_mode()
        # registry=None: registered per scrape (render), so that several apps in one process (tests) each
        # keep their own counts, and so that in multiprocess mode only the files are read.
        self.requests: Counter = Counter(
            f"{PREFIX}_http_requests", "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"), registry=None,
        )
        self.latency: Histogram = Histogram(
            f"{PREFIX}_http_request_duration_seconds", "Time to answer an HTTP request, by route template and method.",
            ("route", "method"), buckets=LATENCY_BUCKETS, registry=None,
        )

    def observe(self, *, route: str, method: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "OTHER"
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.latency.labels(route=route, method=method).observe(seconds)

    def render(self, *collectors: Any) -> tuple[bytes, str]:
        """The exposition text (and its content type): the request metrics (every worker's, added up in
        multiprocess mode) and the given collectors."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry(auto_describe=False)
        if self.multiprocess:
            MultiProcessCollector(registry)
        else:
            registry.register(self.requests)
            registry.register(self.latency)
        for collector in collectors:
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts every HTTP request once it is answered: status as sent (also the request log's own 413 and
    500), route template as matched, wall time from the first byte of the request to the end of the answer."""

    def __init__(self, app: ASGIApp, *, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self.metrics.observe(
                route=route_template(scope) or "<unmatched>",
                method=str(scope.get("method", "")),
                status=status,
                seconds=time.perf_counter() - started,
            )


# --- gauges read from the database when scraped --------------------------------------------------------------


def _gauge(name: str, documentation: str, value: float | None = None, labels: Iterable[str] = ()) -> Metric:
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(f"{PREFIX}_{name}", documentation, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    return family


def _age(now: datetime, moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (now - moment).total_seconds())


class DatabaseCollector:
    """The gauges of the module docstring, computed at each scrape from one read-only transaction."""

    def __init__(self, context: ServerContext) -> None:
        self.context = context

    def collect(self) -> Iterator[Metric]:
        try:
            families = self._read()
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            yield _gauge("database_up", "1 when the scrape's database queries succeeded.", 0)
            return
        yield _gauge("database_up", "1 when the scrape's database queries succeeded.", 1)
        yield from families

    def _read(self) -> list[Metric]:
        now = self.context.clock()
        hour_ago = now - timedelta(hours=1)
        rules = fleet.HealthRules.from_settings(self.context.settings)
        with self.context.reads() as session:
            by_status = dict(
                session.execute(select(Application.status, func.count()).group_by(Application.status)).all()
            )
            pending, oldest_pending = session.execute(
                select(func.count(), func.min(Application.received_at)).where(Application.photo_check == "pending")
            ).one()
            received = session.scalar(select(func.count()).where(Application.received_at >= hour_ago))
            renewals = session.scalar(select(func.count()).where(Renewal.received_at >= hour_ago))
            kiosks = [fleet.judge(kiosk, now=now, rules=rules) for kiosk in session.scalars(select(Kiosk))]
            calls, oldest_call = session.execute(
                select(func.count(), func.min(StaffCall.received_at)).where(StaffCall.status == "open")
            ).one()
            crls, newest_crl, first_expiry = session.execute(
                select(func.count(), func.max(RevocationList.this_update), func.min(RevocationList.next_update))
            ).one()
            session.close()

        applications = _gauge("applications", "Applications stored, by status.", labels=["status"])
        for status in sorted(set(STATES) | set(by_status)):
            applications.add_metric([status], by_status.get(status, 0))
        by_state = _gauge("kiosks", "Registered kiosks by state (server/fleet.py decides it).", labels=["state"])
        by_health = _gauge("kiosks_by_health", "Registered kiosks by the health they last reported.",
                           labels=["health"])
        for family, known, seen in ((by_state, fleet.STATES, [k.state for k in kiosks]),
                                    (by_health, fleet.HEALTH, [k.health for k in kiosks])):
            for value in dict.fromkeys((*known, *seen)):  # every known value (0 too), then any newer one
                family.add_metric([value], seen.count(value))
        attention = sum(1 for k in kiosks if k.needs_attention)
        families = [
            applications,
            _gauge("photo_checks_pending", "Applications whose photo checks have not run yet.", pending),
            _gauge("applications_received_last_hour", "Applications received in the last hour.", received or 0),
            _gauge("renewals_received_last_hour", "Renewal applications received in the last hour.", renewals or 0),
            by_state,
            by_health,
            _gauge("kiosks_needing_attention", "Enabled kiosks that are silent or unhealthy (what `kiosk server "
                   "kiosks` exits 1 for).", attention),
            _gauge("staff_calls_open", "Staff calls not yet acknowledged or cancelled.", calls),
            _gauge("crls", "CRLs imported (one per issuing CA key).", crls),
        ]
        optional = (
            ("photo_check_oldest_pending_seconds", "Age of the oldest application still waiting for its photo "
             "checks.", _age(now, oldest_pending)),
            ("staff_call_oldest_open_seconds", "Age of the oldest open staff call.", _age(now, oldest_call)),
            ("crl_age_seconds", "Age of the newest imported CRL (since its thisUpdate).", _age(now, newest_crl)),
            ("crl_next_update_seconds", "Seconds until the first imported CRL passes its nextUpdate (negative: "
             "overdue, its certificates' status is unknown).",
             None if first_expiry is None else (first_expiry - now).total_seconds()),
        )
        families += [_gauge(name, text, value) for name, text, value in optional if value is not None]
        return families


class BuildCollector:
    """``kiosk_server_build_info``: the package version, the API version and the schema revision this code
    needs, as labels of a constant 1."""

    def __init__(self, api_version: str) -> None:
        self.api_version = api_version

    def collect(self) -> Iterator[Metric]:
        family = _gauge("build_info", "The running server's version.", labels=["version", "api_version",
                                                                                  "schema", "python"])
        family.add_metric([_package_version(), self.api_version, _schema_head(),
                           ".".join(map(str, sys.version_info[:3]))], 1)
        yield family


@cache
def _package_version() -> str:
    try:
        return metadata.version("mynumber-kiosk")
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def _schema_head() -> str:
    return head_revision()  # reads the migration scripts: once per process


# --- who may scrape, and the route ----------------------------------------------------------------------------


@cache
def _networks(allow: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n) for n in allow)


def peer_allowed(settings: Settings, host: str | None) -> bool:
    """The peer's address is in ``[metrics] allow`` (an IPv4-mapped IPv6 address counts as its IPv4)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in _networks(settings.metrics_allow))


def token_accepted(settings: Settings, header: str | None) -> bool:
    """No ``[metrics] token_file``, or ``Authorization: Bearer`` with its content. The file is read at each
    scrape (cheap, every 15 s or so), so a new token takes effect without a restart; an unreadable or empty
    file refuses every scraper, and says so in the log."""
    if settings.metrics_token_file is None:
        return True
    try:
        expected = settings.metrics_token_file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        log.error("metrics: token_file %s cannot be read (%s)", settings.metrics_token_file, type(exc).__name__)
        return False
    if not expected:
        log.error("metrics: token_file %s is empty", settings.metrics_token_file)
        return False
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics(request: Request, context: ContextDep) -> Response:
    settings = context.settings
    if not settings.metrics_enabled:
        return error_response(404, "not_found", "Metrics are switched off ([metrics] enabled = false).")
    client = request.scope.get("client")
    allowed = peer_allowed(settings, client[0] if client else None)
    if not allowed or not token_accepted(settings, request.headers.get("authorization")):
        return error_response(
            403, "metrics_forbidden",
            "This address may not read the metrics (see [metrics] allow and token_file in the server's configuration).",
        )
    metrics_state: RequestMetrics = request.app.state.metrics
    body, content_type = metrics_state.render(DatabaseCollector(context), BuildCollector(request.app.version))
    return Response(content=body, media_type=None, headers={"content-type": content_type})


__all__ = [
    "LATENCY_BUCKETS",
    "MULTIPROCESS_ENV",
    "BuildCollector",
    "DatabaseCollector",
    "MetricsMiddleware",
    "RequestMetrics",
    "multiprocess_directory",
    "multiprocess_mode",
    "peer_allowed",
    "router",
    "token_accepted",
]
