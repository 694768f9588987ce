"""The resident's card application and the application status lookup (``machine.py``), the disk and
network work they ask for (``tasks.py``), and their message keys (``kiosk.core.application_keys``)."""

from kiosk.core.flows.application.machine import ApplicationFlow, StatusFlow, mask_application_id

__all__ = ["ApplicationFlow", "StatusFlow", "mask_application_id"]
