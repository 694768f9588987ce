"""Rules the kiosk and the central server must apply identically, written once.

What belongs here: a rule both sides depend on, as a pure function or a constant — the 申請書ID format
(``application_id``), basic-4 normalisation (``basic4``), CRL verification (``crl``), the application
photo rules (``photo``) and the payloads the kiosk sends and the server accepts (``payloads``).

What does not: I/O of any kind (files, sockets, databases, clocks — callers pass ``now``), frameworks
(no Kivy, requests, FastAPI, pydantic or SQLAlchemy), and anything only one side needs. Parsing libraries
that work on bytes in memory (cryptography, Pillow) are fine. The import-linter contract ``contract`` in
pyproject.toml keeps it that way; kiosk, drivers and server import from here, never the other way round.
"""
