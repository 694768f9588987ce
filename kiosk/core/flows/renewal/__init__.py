"""Renewal with an existing card (the card signs the application; no form needed)."""

from kiosk.core.flows.renewal.machine import RenewalFlow

__all__ = ["RenewalFlow"]
