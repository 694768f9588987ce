"""The reference central server (the contract the kiosk speaks)."""
