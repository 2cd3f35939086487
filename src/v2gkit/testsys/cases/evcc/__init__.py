"""Conformance cases that test a car (``TC_EVCC_*``): the test system plays the charger (SECC).

ISO 15118-5 lists only SLAC/PLC cases for the EVCC, which need a power-line modem, so these cases were
designed for v2gkit (``VKT`` IDs, ``from_standard=False``): per request the car sends, its content and what
the car does when the charger's answer is FAILED, carries another SessionID, is another message, never
comes, says Ongoing, asks to stop, or arrives with V2GTP or TCP faults. ``_common`` holds the message table
and the checks they share.
"""
