"""ISO 15118-20: the message layer (``messages``: every -20 message built and read from plain values, with the
V2GTP payload type it travels under; ``services``: the service catalogue and ServiceDetail parameter sets),
beside which the protocol core and the SECC/EVCC policies live."""
