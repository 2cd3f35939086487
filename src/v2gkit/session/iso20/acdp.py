"""ISO 15118-20 ACDP sessions (DC charging through an automated connection device, a pantograph: ServiceIDs 4
DC_ACDP and 7 DC_ACDP_BPT), both roles.

The message order, from the -20 ACDP message flows (8.6.4.5.3.5 EVCC, 8.6.4.6.3.5 SECC; requirement IDs per row
of ``ACDP_RULES``; ``*`` may repeat):

    SessionSetup, ACDP_VehiclePositioning*, AuthorizationSetup, Authorization*, ServiceDiscovery,
    ServiceDetail, ServiceSelection (DC_ACDP), DC_ChargeParameterDiscovery, ScheduleExchange*, ACDP_Connect*,
    DC_CableCheck*, DC_PreCharge*, PowerDelivery(Start), DC_ChargeLoop*, PowerDelivery(Stop),
    ACDP_Disconnect*, SessionStop

There is no DC_WeldingDetection: [V2G20-4045] lifts [V2G20-1446] for DC_ACDP and [V2G20-4053] sends the EV
from PowerDelivery(Stop) to ACDP_Disconnect. Beside the main stream the EV sends ACDP_SystemStatusReq from
SessionSetupRes until SessionStopRes ([V2G20-4016]) on its own side stream (V2GTP 0x8103, 8.6.5); the SECC
answers OK when it can represent its status, FAILED when not ([V2G20-4017], [V2G20-4018]). Once the
pantograph may be down, an abort raises it first: ACDP_Disconnect is allowed after ACDP_Connect, DC_CableCheck
and DC_PreCharge (v2gkit's reading of [V2G20-4053]..[V2G20-4055]: the pantograph goes home before SessionStop).

FAILED handling differs from AC/DC: the EV does not stop at a FAILED answer ([V2G20-4025] lifts [V2G20-1967])
and the SECC does not stop after FAILED_SequenceError ([V2G20-4057] lifts [V2G20-1482]); both carry on until
the last message pair of the exception procedure ([V2G20-4058], NOTE 1 of 8.6.4.5.2.1): power off
(PowerDelivery(Stop)) if it flows, the pantograph home (ACDP_Disconnect*) if it may be down, then SessionStop.
The session then ends as the refusal it was. FAILED_UnknownSession still ends it at once (not our session).
[V2G20-4031]..[V2G20-4038], [V2G20-4079] (SessionStopReq after a response code other than OK to the messages
before ACDP_Connect) are the same procedure with nothing connected.

Timing (Table 219, [V2G20-4020]/[V2G20-4021]): V2G_EVCC_Msg_Timeout 2 s and V2G_SECC_Msg_Performance_Time
1.5 s for all four ACDP messages, the defaults of Table 215, so timing.py has no new value for them; the DC
messages keep Table 217's. Table 89's System_Status_End_Timeout (60 s) is in timing.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ... import timing
from ...controllers import ACDPChargerController, ACDPVehicleController, CPState
from ...v2gtp import PayloadType
from ..config import check_seconds
from ..events import Event, Output, Reason, Timer
from ..hooks import Hooks
from ..paused import PausedSessions
from . import acdp_messages as A
from . import messages as msg
from .config import EVCC20Config, SECC20Config
from .core import NEXT, Core
from .extend import COMMON_REQUESTS, ExtendedEVCC, ExtendedSECC, Stop, common_rules
from .services import BPT_SERVICES, ServiceID

__all__ = ["ACDP_RULES", "ACDPCore", "ACDPEVCCConfig", "ACDPEVCCSession", "ACDPSECCConfig", "ACDPSECCSession"]

_S = frozenset({"SessionStop"})
_D = frozenset({"ACDP_Disconnect"})  # the pantograph may be down: home first

#: After a response to <key>, the next request must be one of these (SECC view; both roles check it).
ACDP_RULES: dict[str, frozenset[str]] = common_rules(**{
    "SessionSetup": frozenset({"ACDP_VehiclePositioning"}) | _S,  # [V2G20-4067], [V2G20-4046] (WLAN)
    "SessionSetup:Resumed:ACDP": frozenset({"DC_ChargeParameterDiscovery"}) | _S,  # as AC/DC ([V2G20-1032])
    "ACDP_VehiclePositioning:Ongoing": frozenset({"ACDP_VehiclePositioning"}) | _S,  # [V2G20-4068], [V2G20-4047]
    "ACDP_VehiclePositioning:Finished": frozenset({"AuthorizationSetup"}) | _S,  # [V2G20-4069], [V2G20-4049]
    "ServiceSelection:ACDP": frozenset({"DC_ChargeParameterDiscovery"}) | _S,  # DC (NOTE 2 of 8.6.4.5.3.5)
    "DC_ChargeParameterDiscovery": NEXT["DC_ChargeParameterDiscovery"],
    "ScheduleExchange:Finished:ACDP": frozenset({"ACDP_Connect"}) | _S,  # [V2G20-4070], [V2G20-4050]
    "ACDP_Connect:Ongoing": frozenset({"ACDP_Connect"}) | _D,  # [V2G20-4071], [V2G20-4051]
    "ACDP_Connect:Finished": frozenset({"DC_CableCheck"}) | _D,  # [V2G20-4072], [V2G20-4052]
    "DC_CableCheck:Ongoing": frozenset({"DC_CableCheck"}) | _D,  # [V2G20-2003] (NOTE 3)
    "DC_CableCheck:Finished": frozenset({"DC_PreCharge"}) | _D,  # [V2G20-2004]
    "DC_PreCharge": frozenset({"DC_PreCharge", "PowerDelivery"}) | _D,  # [V2G20-2005], [V2G20-2006]
    "PowerDelivery:Start:ACDP": frozenset({"DC_ChargeLoop"}),  # as DC ([V2G20-2010])
    "PowerDelivery:Standby:ACDP": frozenset({"DC_ChargeLoop", "PowerDelivery"}),
    "PowerDelivery:Stop:ACDP": _D,  # [V2G20-4073], [V2G20-4053]
    "DC_ChargeLoop": NEXT["DC_ChargeLoop"],  # [V2G20-2013]
    "MeteringConfirmation:ACDP": NEXT["MeteringConfirmation:DC"],
    "ACDP_Disconnect:Ongoing": _D,  # [V2G20-4074], [V2G20-4054]
    "ACDP_Disconnect:Finished": _S,  # [V2G20-4075], [V2G20-4055]
    # after a FAILED answer: the exception procedure to its last message pair ([V2G20-4057], [V2G20-4058])
    "Exception": frozenset({"PowerDelivery", "ACDP_Disconnect", "SessionStop"}),
})

_PROCESSED = frozenset({"ACDP_VehiclePositioning", "ACDP_Connect", "ACDP_Disconnect"})
#: the side stream of ACDP_SystemStatus (8.6.5; the number from Josev's and libcbv2g's payload-type table)
SYSTEM_STATUS_PT = int(PayloadType.ISO20_ACDP_SYSTEM_STATUS)


class ACDPCore(Core):
    """The -20 core with the ACDP keys (":Ongoing"/":Finished" for positioning, connect and disconnect) and
    the ACDP_SystemStatus side stream's payload type (0x8103) read with the ACDP schema."""

    def key(self, name: str, req: Any, res: Any) -> str:
        if name in _PROCESSED:
            return f"{name}:{'Finished' if msg.processing(res) == 'Finished' else 'Ongoing'}"
        return super().key(name, req, res)

    def decode(self, message: Any) -> msg.Decoded:
        if message.payload_type == SYSTEM_STATUS_PT:
            return msg.decode(int(PayloadType.ISO20_ACDP), message.payload)
        return super().decode(message)

    def send_side(self, now: float, element: str, body: Any, payload_type: int = SYSTEM_STATUS_PT) -> list[Output]:
        """A side-stream message through the one exit (hooks apply), under ``payload_type``."""
        def enc(el: str, b: Any) -> tuple[int, bytes]:
            return payload_type, msg.encode(el[:-3], el.endswith("Req"), b, self.session_id,
                                            self.wall_clock(now))[1]

        return self.exit.send(now, element, body, enc)


# ============================================================================================== SECC

@dataclass
class ACDPSECCConfig(SECC20Config):
    """The charger's side, plus how long vehicle positioning and the pantograph's moves may take (Ongoing)
    before the SECC answers FAILED (V2G_SECC_Ongoing_Performance_Time of Table 215; no ACDP value is known)."""

    positioning_limit: float = timing.ISO20_SECC_ONGOING_PERFORMANCE_TIME
    connect_limit: float = timing.ISO20_SECC_ONGOING_PERFORMANCE_TIME

    def __post_init__(self) -> None:
        super().__post_init__()
        check_seconds(self, "positioning_limit", "connect_limit")


class ACDPSECCSession(ExtendedSECC):
    """The charger's side of one ACDP session: a DC charger with a pantograph (``ACDPChargerController``)."""

    OWN: ClassVar[dict[str, str]] = {"ACDP_VehiclePositioning": "_on_positioning", "ACDP_Connect": "_on_connect",
           "ACDP_Disconnect": "_on_disconnect"}
    BUILD: ClassVar[dict[str, str]] = {"ACDP_VehiclePositioning": "_positioning_res", "ACDP_Connect": "_connect_res",
             "ACDP_Disconnect": "_disconnect_res", "ACDP_SystemStatus": "_status_res"}
    COMMON = COMMON_REQUESTS | {"DC_ChargeParameterDiscovery", "DC_CableCheck", "DC_PreCharge", "DC_ChargeLoop",
                                "MeteringConfirmation"}
    SIDE = frozenset({"ACDP_SystemStatus"})

    def __init__(self, protocol: str, evse: ACDPChargerController, config: ACDPSECCConfig | None = None,
                 paused: PausedSessions | None = None, hooks: Hooks | None = None) -> None:
        if protocol != "iso20-acdp":
            raise ValueError(f"an ACDP session runs on iso20-acdp, not {protocol!r}")
        cfg = config or ACDPSECCConfig()
        services = (ServiceID.DC_ACDP,) + ((ServiceID.DC_ACDP_BPT,) if cfg.bpt else ())
        super().__init__(ACDPCore(protocol, hooks, rules=ACDP_RULES), evse, cfg, paused, services)
        self.evse: ACDPChargerController = evse
        self.cfg: ACDPSECCConfig = cfg
        #: ACDP_SystemStatus exchanges answered, and how many of them FAILED
        self.status_answers = 0
        self.status_failed = 0

    # -- handlers ----------------------------------------------------------------------------------
    def _on_positioning(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        self.evse.ev_immobilized(bool(req.ev_mobility_status))
        return self.common._ongoing(now, "ACDP_VehiclePositioning", self.cfg.positioning_limit,
                                    bool(req.ev_mobility_status))  # [V2G20-4068], [V2G20-4069]

    def _on_connect(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if "ACDP_Connect" not in self.common._since:
            self.evse.connect()
        if self.evse.contact_failed():
            self.common._since.pop("ACDP_Connect", None)
            self._why = "the pantograph cannot make contact (EV outside the contact window)"
            return "FAILED", "Finished"
        electrical, mechanical = self.evse.device_status()
        return self.common._ongoing(now, "ACDP_Connect", self.cfg.connect_limit,
                                    mechanical == "EndPosition" and electrical != "State_A")

    def _on_disconnect(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if "ACDP_Disconnect" not in self.common._since:
            self.evse.stop_output()
            self.evse.disconnect()
        return self.common._ongoing(now, "ACDP_Disconnect", self.cfg.connect_limit,
                                    self.evse.device_status()[1] == "Home")  # [V2G20-4074], [V2G20-4075]

    def handle_common(self, name: str, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if self.failed is not None and name == "PowerDelivery" and msg.charge_progress(req) != "Stop":
            self._why = f"PowerDelivery({msg.charge_progress(req)}) during the exception procedure"
            return "FAILED_SequenceError", None
        return super().handle_common(name, now, sid, req)

    # -- builders: session state only, any code ------------------------------------------------------
    def _positioning_res(self, code: str, extra: Any) -> Any:
        p = self.evse.position()
        return A.vehicle_positioning_res(code, extra or "Finished", p.positioning_support, p.x_deviation,
                                         p.y_deviation, p.window_x, p.window_y, p.in_charge_position)

    def _connect_res(self, code: str, extra: Any) -> Any:
        electrical, mechanical = self.evse.device_status()
        return A.connect_res(code, extra or "Finished", electrical, mechanical)

    def _disconnect_res(self, code: str, extra: Any) -> Any:
        electrical, mechanical = self.evse.device_status()
        return A.disconnect_res(code, extra or "Finished", electrical, mechanical)

    def _status_res(self, code: str, extra: Any) -> Any:
        return A.system_status_res(code, extra if extra is not None else A.EVSESystemStatus())

    # -- the side stream -----------------------------------------------------------------------------
    def side_message(self, now: float, d: msg.Decoded, payload_type: int) -> list[Output]:
        if not d.request:
            return self._close(Reason.WRONG_MESSAGE, f"{d.element} received by the SECC")
        out: list[Output] = []
        status, code = None, "OK"
        if self.core.strict and (self.core.state == "Start" or d.session_id != self.session_id):
            code = "FAILED_SequenceError" if self.core.state == "Start" else "FAILED_UnknownSession"
        else:
            try:
                self.evse.ev_status(A.technical_status_of(d.body))
                status = self.evse.system_status()
            except Exception as e:  # noqa: BLE001 - the charger cannot tell its status: FAILED ([V2G20-4018])
                out.append(Event("internal_error", {"name": "ACDP_SystemStatusReq", "error": e}))
                code = "FAILED"
        self.status_answers += 1
        self.status_failed += msg.is_failed(code)
        try:
            pt = payload_type if payload_type in (SYSTEM_STATUS_PT, int(PayloadType.ISO20_ACDP)) else SYSTEM_STATUS_PT
            return out + self.core.send_side(now, "ACDP_SystemStatusRes", self._status_res(code, status), pt)
        except Exception as e:  # noqa: BLE001 - our own answer cannot be built: our bug
            out.append(Event("internal_error", {"name": "ACDP_SystemStatusRes", "error": e}))
            return out + self._close(Reason.INTERNAL_ERROR, f"internal error: cannot build ACDP_SystemStatusRes: "
                                                            f"{type(e).__name__}: {e}")

    # -- FAILED ------------------------------------------------------------------------------------
    def wind_down(self, name: str, code: str) -> str | None:
        if code == "FAILED_UnknownSession":
            return None
        self.evse.stop_output()  # the exception procedure: no power, the pantograph stays for ACDP_Disconnect
        return "Exception"

    def closing(self, reason: Reason) -> None:
        if not reason.ok:
            self.evse.disconnect()  # whatever happened, the pantograph goes home


# ============================================================================================== EVCC

@dataclass
class ACDPEVCCConfig(EVCC20Config):
    """The car's side, plus: the period of its ACDP_SystemStatusReq (no -20 value is known; v2gkit's
    policy: timing.ISO20_ACDP_SYSTEM_STATUS_INTERVAL) and how long it keeps positioning, connecting and
    disconnecting going (V2G_EVCC_Ongoing_Timeout of Table 215; no ACDP value is known)."""

    status_interval: float = timing.ISO20_ACDP_SYSTEM_STATUS_INTERVAL
    positioning_timeout: float = timing.ISO20_EVCC_ONGOING_TIMEOUT
    connect_timeout: float = timing.ISO20_EVCC_ONGOING_TIMEOUT

    def __post_init__(self) -> None:
        super().__post_init__()
        check_seconds(self, "status_interval", "positioning_timeout", "connect_timeout")


class ACDPEVCCSession(ExtendedEVCC):
    """The car's side of one ACDP session: a DC car that drives under a pantograph (``ACDPVehicleController``)."""

    PLAN: ClassVar[dict[str, str]] = {
        "SessionSetup": "_after_session_setup",  # -> ACDP_VehiclePositioning (status stream starts)
        "ACDP_VehiclePositioning": "_after_positioning",  # Ongoing -> again; Finished -> AuthorizationSetup
        "AuthorizationSetup": "_after_authorization_setup",
        "Authorization": "_after_authorization",
        "ServiceDiscovery": "_after_service_discovery",  # -> ServiceDetail of DC_ACDP(_BPT)
        "ServiceDetail": "_after_service_detail",
        "ServiceSelection": "_after_service_selection",  # -> DC_ChargeParameterDiscovery
        "DC_ChargeParameterDiscovery": "_after_charge_parameters",  # -> ScheduleExchange
        "ScheduleExchange": "_after_schedule_exchange",  # -> ACDP_Connect
        "ACDP_Connect": "_after_connect",  # Ongoing -> again; Finished -> DC_CableCheck
        "DC_CableCheck": "_after_cable_check",
        "DC_PreCharge": "_after_pre_charge",
        "PowerDelivery": "_after_power_delivery",  # Start -> loop; Stop -> ACDP_Disconnect
        "DC_ChargeLoop": "_after_loop",
        "MeteringConfirmation": "_after_loop",
        "ACDP_Disconnect": "_after_disconnect",  # Ongoing -> again; Finished -> SessionStop
        "SessionStop": "_after_session_stop",
    }
    BUILD: ClassVar[dict[str, str]] = {"ACDP_VehiclePositioning": "_positioning_req", "ACDP_Connect": "_connect_req",
             "ACDP_Disconnect": "_disconnect_req"}
    LOOPS = frozenset({"ACDP_VehiclePositioning", "Authorization", "ScheduleExchange", "ACDP_Connect",
                       "DC_CableCheck", "DC_PreCharge", "DC_ChargeLoop", "ACDP_Disconnect"})
    SIDE = frozenset({"ACDP_SystemStatus"})
    TIMERS = ("response", "next", "status", "status_response")

    def __init__(self, protocol: str, ev: ACDPVehicleController, config: ACDPEVCCConfig | None = None,
                 hooks: Hooks | None = None) -> None:
        if protocol != "iso20-acdp":
            raise ValueError(f"an ACDP session runs on iso20-acdp, not {protocol!r}")
        cfg = config or ACDPEVCCConfig()
        super().__init__(ACDPCore(protocol, hooks, rules=ACDP_RULES), ev, cfg, dc=True)
        self.ev: ACDPVehicleController = ev
        self.cfg: ACDPEVCCConfig = cfg
        self.connected = False  # ACDP_Connect sent and the pantograph not reported home since
        self.power_on = False  # PowerDelivery(Start) answered and no Stop since
        #: the charger's latest ACDP_SystemStatusRes, and why the car must stop (a FAILED status, must_stop)
        self.evse_status: A.EVSESystemStatus | None = None
        self.status_exchanges = 0
        #: why the car must stop, from the side stream: (reason the session ends with, in words)
        self._trouble: tuple[Reason, str] | None = None
        self._status_on = False
        self._status_pending = False

    # -- builders ------------------------------------------------------------------------------------
    def _positioning_req(self) -> Any:
        return A.vehicle_positioning_req(self.ev.immobilized(), True)

    def _connect_req(self) -> Any:
        self.connected = True
        return A.connect_req(_device_state(self.ev))

    def _disconnect_req(self) -> Any:
        return A.disconnect_req(_device_state(self.ev))

    # -- the plan ------------------------------------------------------------------------------------
    def plan(self, now: float, name: str, res: Any, code: str) -> str | None:
        if self._trouble and self.final is None and name not in ("SessionStop", "PowerDelivery", "ACDP_Disconnect"):
            return self._abort(*self._trouble, name)
        return super().plan(now, name, res, code)

    def _after_session_setup(self, now: float, res: Any, code: str) -> str:
        self._status_on = True
        self.emit(Timer("status", 0.0))  # [V2G20-4016]: the status stream starts now
        if code == "OK_OldSessionJoined":
            if self.common.service is None:
                self.common.service = ServiceID.DC_ACDP_BPT if self.cfg.bpt else ServiceID.DC_ACDP
                self.common.bpt = self.cfg.bpt
            return "DC_ChargeParameterDiscovery"
        return "ACDP_VehiclePositioning"  # [V2G20-4046]

    def _after_positioning(self, now: float, res: Any, code: str) -> str:
        if code != "OK":  # [V2G20-4031]
            return self.give_up(f"ACDP_VehiclePositioningRes {code}")
        processing, position = A.positioning_of(res)
        self.ev.follow(position)
        if processing == "Finished":
            self.done_polling("ACDP_VehiclePositioning")
            return "AuthorizationSetup"  # [V2G20-4049]
        return self.poll(now, "ACDP_VehiclePositioning", self.cfg.positioning_timeout)  # [V2G20-4047]

    def _after_authorization_setup(self, now: float, res: Any, code: str) -> str:
        return self.common._after_authorization_setup(now, res, code)

    def _after_authorization(self, now: float, res: Any, code: str) -> str:
        return self.common._after_authorization(now, res, code)

    def _after_service_discovery(self, now: float, res: Any, code: str) -> str:
        offered = [s.service_id for s in res.energy_transfer_service_list.service]
        if self.common.renegotiation_supported is None:  # only the first answer counts ([V2G20-1480])
            self.common.renegotiation_supported = bool(res.service_renegotiation_supported)
        wanted = ([ServiceID.DC_ACDP_BPT] if self.cfg.bpt else []) + [ServiceID.DC_ACDP]
        pick = next((s for s in wanted if s in offered), None)
        if pick is None:
            return self.give_up(f"SECC offers services {offered}: no DC_ACDP")
        self.common.service, self.common.bpt = pick, pick in BPT_SERVICES
        return "ServiceDetail"

    def _after_service_detail(self, now: float, res: Any, code: str) -> str:
        return self.common._after_service_detail(now, res, code)

    def _after_service_selection(self, now: float, res: Any, code: str) -> str:
        return "DC_ChargeParameterDiscovery"

    def _after_charge_parameters(self, now: float, res: Any, code: str) -> str:
        return self.common._after_charge_parameters(now, res, code)

    def _after_schedule_exchange(self, now: float, res: Any, code: str) -> str:
        nxt = self.common._after_schedule_exchange(now, res, code)
        if nxt == "DC_CableCheck":
            self.ev.set_cp_state(CPState.B)  # no pilot before the pantograph makes contact
            return "ACDP_Connect"  # [V2G20-4050]
        return nxt

    def _after_connect(self, now: float, res: Any, code: str) -> str:
        if msg.processing(res) == "Finished":
            self.done_polling("ACDP_Connect")
            self.ev.set_cp_state(CPState.C)
            return "DC_CableCheck"  # [V2G20-4052]
        return self.poll(now, "ACDP_Connect", self.cfg.connect_timeout)  # [V2G20-4051]

    def _after_cable_check(self, now: float, res: Any, code: str) -> str:
        return self.common._after_cable_check(now, res, code)

    def _after_pre_charge(self, now: float, res: Any, code: str) -> str:
        return self.common._after_pre_charge(now, res, code)

    def _after_power_delivery(self, now: float, res: Any, code: str) -> str | None:
        progress = self.common._progress
        if progress == "Start":
            self.power_on = True
            return self.common._after_power_delivery(now, res, code)
        if progress == "Stop":
            self.power_on = False
            self.common._present = (self.common._present[0], 0.0)
            self.ev.set_cp_state(CPState.B)
            return "ACDP_Disconnect"  # [V2G20-4053]
        return self.common._after_power_delivery(now, res, code)

    def _after_loop(self, now: float, res: Any, code: str) -> str:
        return self.common._after_loop(now, res, code)

    def _after_disconnect(self, now: float, res: Any, code: str) -> str:
        if msg.processing(res) == "Finished":
            self.done_polling("ACDP_Disconnect")
            self.connected = False
            return "SessionStop"  # [V2G20-4055]
        return self.poll(now, "ACDP_Disconnect", self.cfg.connect_timeout)  # [V2G20-4054]

    def _after_session_stop(self, now: float, res: Any, code: str) -> str | None:
        nxt = None if self.final is not None else self.common._after_session_stop(now, res, code)
        if nxt is None:  # the end ([V2G20-4056]: no more side stream); ServiceRenegotiation goes on
            self._status_on = False
            self.emit(Timer("status", None), Timer("status_response", None))
        return nxt

    # -- FAILED and the exception procedure -----------------------------------------------------------
    def _abort(self, reason: Reason, why: str, after: str) -> str:
        """The next step of the exception procedure after the answer to ``after``: power off, pantograph
        home, SessionStop ([V2G20-4058], NOTE 1 of 8.6.4.5.2.1)."""
        if self.final is None:
            self.final = (reason, why)
        self.core.state, self.core.expected = "Exception", self.core.rules["Exception"]
        self.common._stop_session = "Terminate"
        if self.power_on and after != "PowerDelivery":
            return self.common._stop("Terminate")
        if self.connected and after != "ACDP_Disconnect":
            self.ev.set_cp_state(CPState.B)
            return "ACDP_Disconnect"
        return "SessionStop"

    def on_failed(self, now: float, name: str, code: str, detail: str) -> str | None:
        if code == "FAILED_UnknownSession" or name == "SessionStop":
            raise Stop(*(self.final or (Reason.FAILED_RESPONSE, detail)))
        if name == "PowerDelivery":
            self.power_on = False
        return self._abort(Reason.FAILED_RESPONSE, detail, name)  # [V2G20-4025]: not the end yet

    # -- the side stream -----------------------------------------------------------------------------
    def on_timer(self, now: float, name: str) -> list[Output]:
        if name == "status" and self._status_on and not self._status_pending:
            try:
                body = A.system_status_req(self.ev.technical_status())
                out = self.core.send_side(now, "ACDP_SystemStatusReq", body)
            except Exception as e:  # noqa: BLE001 - our car or our builder failed: a local fault
                return [Event("internal_error", {"name": "ACDP_SystemStatusReq", "error": e})] + self._end(
                    Reason.INTERNAL_ERROR, f"internal error: cannot build ACDP_SystemStatusReq: {type(e).__name__}: {e}")
            self._status_pending = True
            return out + [Timer("status_response", self._timeout("ACDP_SystemStatus"))]
        if name == "status_response" and self._status_pending:
            return self._end(Reason.MESSAGE_TIMEOUT, f"V2G_EVCC_Msg_Timeout: no ACDP_SystemStatusRes within "
                                                     f"{self._timeout('ACDP_SystemStatus'):g} s")
        return []

    def side_message(self, now: float, d: msg.Decoded, payload_type: int) -> list[Output]:
        if d.request or (self.core.strict and not self._status_pending):
            return self._end(Reason.WRONG_MESSAGE, f"{d.element} while no ACDP_SystemStatusReq is pending")
        if self.core.strict and d.session_id != self.session_id:
            return self._end(Reason.UNKNOWN_SESSION, f"{d.element} carries SessionID {d.session_id.hex()}, "
                                                     f"not {self.session_id.hex()}")
        self._status_pending = False
        self.status_exchanges += 1
        out: list[Output] = [Timer("status_response", None)]
        code = msg.response_code(d.body)
        status = A.system_status_of(d.body)
        self.evse_status = status
        if msg.is_failed(code) and not self._trouble:  # the charger cannot tell its status ([V2G20-4018])
            self._trouble = (Reason.FAILED_RESPONSE, f"SECC answered ACDP_SystemStatusReq with {code}")
        elif status.must_stop and not self._trouble:  # the charger stops: the protocol's way to the end
            self._trouble = (Reason.TERMINATED, "the charger's ACDP_SystemStatus says it must stop" + (
                " (emergency shutdown)" if status.emergency_shutdown else ""))
        if self._status_on:
            out.append(Timer("status", self.cfg.status_interval))
        return out


def _device_state(ev: ACDPVehicleController) -> str:
    """EVElectricalChargingDeviceStatus from the car's pilot (State_A..State_D; E/F count as A)."""
    state = getattr(ev, "cp_state", None)
    letter = state.value if isinstance(state, CPState) else "B"
    return f"State_{letter}" if letter in "ABCD" else "State_A"
