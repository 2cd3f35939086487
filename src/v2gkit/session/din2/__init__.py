"""DIN SPEC 70121 and ISO 15118-2 sessions: one protocol core (``core``: the rules both roles check, the
SessionID, the codec, the exit) and two role policies (``secc``, ``evcc``) that decide message contents from
the controllers. ``dialect`` builds and reads the messages of both standards through one interface."""

from ..families import DIN2
from .config import EVCCConfig, SECCConfig
from .core import NEXT, Core
from .evcc import EV_MODES, EVCC_NEXT, EVCCSession
from .secc import PAYMENT_NEXT, SECCSession

#: the app-handshake protocols (handshake.PROTOCOLS names) these machines speak
PROTOCOLS = DIN2

__all__ = ["EVCC_NEXT", "EV_MODES", "NEXT", "PAYMENT_NEXT", "PROTOCOLS", "Core", "EVCCConfig", "EVCCSession", "SECCConfig",
           "SECCSession"]
