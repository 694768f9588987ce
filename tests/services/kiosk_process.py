"""The flusher subprocess (``flusher_proc.py``) as the crash tests drive it: started, killed, always reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.services.certs import LoopbackPki

SCRIPT = Path(__file__).with_name("flusher_proc.py")
LEASE = 1.5


class KioskProcess:
    """The flusher subprocess; always reaped, even when a test fails."""

    def __init__(self, db: Path, key_file: Path, url: str, *, ca: Path, cert: Path, key: Path) -> None:
        command = [sys.executable, str(SCRIPT), "--db", str(db), "--key-file", str(key_file), "--url", url,
                   "--ca", str(ca), "--cert", str(cert), "--client-key", str(key), "--lease", str(LEASE)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", self.proc.stderr.read() if self.proc.stderr else line

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(10) == -signal.SIGKILL

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def tls_files(pki: LoopbackPki) -> dict[str, Path]:
    return {"ca": pki.ca_cert, "cert": pki.client_cert, "key": pki.client_key}
