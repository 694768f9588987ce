"""The composition root: the ``kiosk`` command line and the wiring of the running kiosk.

Only here do configuration, readers (``drivers.pcsc`` or ``drivers.sim``), services, flows and the UI meet
(``wiring.py``); ``cli/`` holds the operator commands, ``doctor.py`` the health checks and
``local_central.py`` the demo's in-process reference server. Nothing imports this package (import
contract ``composition-root`` in ``pyproject.toml``); the console script enters at ``cli.main``.
"""
