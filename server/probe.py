"""``python -m server.probe [readyz|healthz]``: ask this machine's server whether it is ready (or alive).

For health checks that run next to the server — a container's ``HEALTHCHECK``, a systemd timer, a
load-balancer agent — where no ``curl`` is installed and the server speaks HTTPS only. Exit 0 when the answer
is 200, 1 otherwise, with one line saying why (the ``message`` of a 503 names the failed check, e.g. "database
schema at 0007, expected 0008: run `kiosk server migrate`").

The address comes from ``--config`` (``[server] host`` and ``port``; a wildcard host is probed on loopback) or
``--url``. The server's certificate is *not* verified: the probe talks to its own machine over loopback, where
the name in the certificate (the public one) never matches, and what it checks is the answer, not who gives
it; it sends nothing secret. With ``[tls] client_cert = "required"`` the handshake needs a client certificate:
give one with ``--cert``/``--key`` (or run the server with ``client_cert = "optional"``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from server.settings import Settings

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - mapped away from, never bound


def base_url(settings: Settings) -> str:
    host = _WILDCARDS.get(settings.host, settings.host)
    return f"https://[{host}]:{settings.port}" if ":" in host else f"https://{host}:{settings.port}"


def _context(cert: str | None, key: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # loopback self-probe, see the module docstring
    context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    return context


def probe(url: str, *, cert: str | None = None, key: str | None = None, timeout: float = 5.0) -> tuple[bool, str]:
    """(ok, one line) for ``GET url``."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return False, f"{url}: the server speaks HTTPS only (https://host:port/path)"
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or 443, timeout=timeout,
                                             context=_context(cert, key))
    try:
        connection.request("GET", parts.path or "/", headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError and timeouts are OSErrors
        return False, f"{url}: no answer ({type(exc).__name__}: {exc})"
    finally:
        connection.close()
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    said = data.get("message") or data.get("status") if isinstance(data, dict) else None
    return response.status == 200, f"{url}: {response.status} {said or response.reason}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server.probe", description="Is this machine's server ready?")
    parser.add_argument("what", nargs="?", choices=("readyz", "healthz"), default="readyz")
    parser.add_argument("--config", help="the server's TOML file: probe its [server] host and port")
    parser.add_argument("--url", help="the server's base URL instead (default https://127.0.0.1:8443)")
    parser.add_argument("--cert", help="a client certificate (PEM) when the server requires one")
    parser.add_argument("--key", help="its key (PEM)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        settings = Settings.from_toml(args.config) if args.config else Settings()
    except (OSError, ValueError) as exc:
        print(f"probe: {args.config}: {exc}", file=sys.stderr)
        return 1
    base = (args.url or base_url(settings)).rstrip("/")
    try:
        ok, line = probe(f"{base}/{args.what}", cert=args.cert, key=args.key, timeout=args.timeout)
    except (OSError, ssl.SSLError) as exc:  # an unreadable client certificate
        print(f"probe: {exc}", file=sys.stderr)
        return 1
    print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
