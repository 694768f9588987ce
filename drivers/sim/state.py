"""Optional persistence of a simulated card's PIN state, so a demo day or a multi-process test behaves
like one physical card: counters survive restarts, a changed PIN stays changed.

Changed PINs are stored only as salted scrypt hashes; the file is written atomically under a lock. A new
card's PIN set for the first time (issuance state) is stored the same way, so it stays set after a
restart; a PIN still awaiting its first value has no entry and stays unset. Delete the file (or the
profile's entry) to hand out the same new card again.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path

from drivers.sim.card import PinState, SimulatedCard, StateListener


class CardStateFile(StateListener):
    """A JSON file holding, per profile and application, each PIN's counter and changed value hash."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValueError(f"card state file {self.path} is unreadable: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def restore(self, card: SimulatedCard) -> None:
        """Apply the stored state to ``card`` (call once, before serving it)."""
        entry = self._read().get(card.image.profile_id, {})
        for app_name, pins in entry.items():
            for fid_hex, saved in pins.items():
                try:
                    pin = card.pin(app_name, int(fid_hex, 16))
                except (KeyError, ValueError):
                    continue  # the profile changed since; ignore stale entries
                salted = None
                if saved.get("salt") and saved.get("hash"):
                    salted = (bytes.fromhex(saved["salt"]), bytes.fromhex(saved["hash"]))
                pin.restore(int(saved.get("remaining", pin.max_tries)), salted)

    def pin_changed(self, card: SimulatedCard, app: str, pin: PinState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(self.path.suffix + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            record: dict[str, object] = {"remaining": pin.remaining}
            if pin.salted is not None:
                record["salt"], record["hash"] = pin.salted[0].hex(), pin.salted[1].hex()
            data.setdefault(card.image.profile_id, {}).setdefault(app, {})[f"{pin.fid:04X}"] = record
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
