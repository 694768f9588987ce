"""Card access for the My Number kiosk: transport → protocol → applications.

Nothing here imports kivy, requests, kiosk or server; only ``drivers.pcsc`` imports pyscard.
"""
