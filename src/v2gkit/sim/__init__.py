from v2gkit.sim.ev import SimulatedEV, ocv_from_soc  # noqa: F401
from v2gkit.sim.evse import Cable, SimulatedACEVSE, SimulatedDCEVSE  # noqa: F401
