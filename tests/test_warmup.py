"""The SECC's warm-up: one short simulated session per protocol it serves, through the same machine."""

from __future__ import annotations

import pytest

from v2gkit.session import warmup
from v2gkit.session.din2 import SECCConfig
from v2gkit.session.warmup import warm_up
from v2gkit.sim.evse import SimulatedACEVSE, SimulatedDCEVSE


@pytest.mark.parametrize(("dc", "protocols", "expected"), [
    (True, ["iso20-dc", "iso2", "din"], ("iso20-dc/plain", "iso2/DC", "din/DC")),
    (False, ["iso2", "din"], ("iso2/AC",)),  # DIN 70121 is DC only
    (True, ["iso20-ac"], ()),  # a DC charger has no -20 AC session
    (False, ["iso20-ac", "iso20-dc"], ("iso20-ac/plain",)),
])
def test_every_served_protocol_runs_its_energy_loop(dc: bool, protocols: list[str],
                                                    expected: tuple[str, ...]) -> None:
    done = warm_up(protocols, SECCConfig(dc=dc))
    assert done.sessions == expected and 0 < done.seconds < 5
    for name in expected:
        proto = name.split("/")[0]
        loop = ("DC_ChargeLoopRes" if dc else "AC_ChargeLoopRes") if proto.startswith("iso20") else (
            "CurrentDemandRes" if dc else "ChargingStatusRes")
        per_mode = 2 if proto.startswith("iso20") else 1  # -20 warms both control modes
        assert done.answers[f"{proto}:{loop}"] >= 10  # the hot path, many times
        assert done.answers[f"{proto}:SessionStopRes"] == per_mode
    if not expected:
        assert not done.answers


def test_a_charger_that_refuses_is_replaced_by_a_default_one() -> None:
    """The configured charger refuses authorization: the loop is warmed with a default simulator."""
    made: list[SimulatedDCEVSE] = []

    def refusing() -> SimulatedDCEVSE:
        made.append(SimulatedDCEVSE(auth_result=False))
        return made[-1]

    done = warm_up(["din"], SECCConfig(), refusing)
    assert done.sessions == ("din/DC",) and len(made) == 1
    assert done.answers["din:CurrentDemandRes"] >= 10


def test_the_configured_session_settings_are_used_but_not_the_session_id(monkeypatch: pytest.MonkeyPatch) -> None:
    configs: list[SECCConfig] = []

    class Recording(warmup.SECCSession):
        def __init__(self, protocol: str, evse: object, config: SECCConfig, paused: object) -> None:
            configs.append(config)
            super().__init__(protocol, evse, config, paused)  # type: ignore[arg-type]

    monkeypatch.setattr(warmup, "SECCSession", Recording)
    fixed = bytes.fromhex("0102030405060708")
    done = warm_up(["iso2"], SECCConfig(dc=False, receipt_interval=3, session_id=fixed), SimulatedACEVSE)
    assert done.answers["iso2:MeteringReceiptRes"] >= 1  # receipt_interval took effect
    # a real car may later be given the fixed SessionID; the warm-up's own never is
    assert [c.session_id for c in configs] == [None] and configs[0].receipt_interval == 3
