"""The reference server applies the same photo rules as the kiosk's camera (``contract/photo.py``): a photo
the kiosk would have refused is refused by the server too, with the code of the broken rule; a good one is
stored. The server here checks faces in the request (``[photos] checks = "request"``), so the kiosk's client
sees the refusal itself; the default background check (201, then "retake needed") is the server tier's
(``tests/server/test_photo_checks.py``). Synthetic faces only (``tests/support/faces.py``)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.services.central import CentralClient
from kiosk.services.errors import Rejected
from tests.services import synthetic
from tests.services.real_central import RealCentral, unavailable_reason
from tests.support.faces import PHOTO_VARIANTS

pytestmark = [pytest.mark.server,
              pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))]

# the upload rules (format, size, pixels) are the server tier's; these are the rules about the picture
FACE_RULES = {name: check for name, (_make, check) in PHOTO_VARIANTS.items()
              if check not in ("jpeg", "rgb", "dimensions", "file_size", "portrait")}


@pytest.fixture
def central(tmp_path: Path) -> Iterator[RealCentral]:
    server = RealCentral(tmp_path / "central", photo_checks_in="request").start()
    yield server
    server.stop()


def submit(central: RealCentral, n: int, photo: bytes) -> object:
    application = synthetic.application(n)
    application["photo_jpeg_base64"] = base64.b64encode(photo).decode("ascii")
    with CentralClient(central.url, connect_timeout=5, read_timeout=30, **central.client_options()) as client:
        return client.submit_application(application, f"photo-rules-{n:04d}")


def test_a_photo_that_passes_the_kiosk_checks_is_stored(central: RealCentral) -> None:
    before = central.count("applications")
    receipt = submit(central, 1, PHOTO_VARIANTS["good"][0]())
    assert getattr(receipt, "receipt_id", "").startswith("R-")
    assert central.count("applications") == before + 1


@pytest.mark.parametrize("variant", sorted(name for name, check in FACE_RULES.items() if check is not None))
def test_a_photo_breaking_a_face_rule_is_refused_with_that_rule(central: RealCentral, variant: str) -> None:
    make, check = PHOTO_VARIANTS[variant]
    before = central.count("applications")
    with pytest.raises(Rejected) as refused:
        submit(central, 100 + sorted(FACE_RULES).index(variant), make())
    assert refused.value.status == 422 and refused.value.code == f"photo_{check}"
    assert central.count("applications") == before
