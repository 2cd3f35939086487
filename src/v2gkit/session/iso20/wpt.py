"""ISO 15118-20 WPT sessions (wireless power transfer, ServiceID 3), both roles.

The message order, from the -20 WPT message flows (8.6.4.5.3.4 EVCC, 8.6.4.6.3.4 SECC; requirement IDs per
row of ``WPT_RULES``; ``*`` may repeat):

    SessionSetup, WPT_FinePositioningSetup (offer, then choice), WPT_FinePositioning*, WPT_Pairing*,
    AuthorizationSetup, Authorization*, ServiceDiscovery, ServiceDetail, ServiceSelection (WPT),
    WPT_ChargeParameterDiscovery, ScheduleExchange*, WPT_AlignmentCheck*, PowerDelivery(Start),
    WPT_ChargeLoop*, PowerDelivery(Stop), SessionStop

WARNING_WPT (the step failed, the session goes on) sends the EV back: from fine positioning, pairing, charge
parameter discovery, alignment check and PowerDelivery to a new WPT_FinePositioningSetup (or SessionStop),
from the charge loop to WPT_AlignmentCheck or WPT_Pairing (or SessionStop). A repositioning runs the flow
again from there; after pairing the -20 text has the EV send AuthorizationSetupReq ([V2G20-5032],
[V2G20-5034]) whether or not it was authorized before, so v2gkit does that. A FAILED answer to one of the WPT
messages of [V2G20-5067] (setup, positioning, pairing, alignment check, charge loop) is followed by the EV's
SessionStopReq, which the SECC answers before it closes; any other FAILED ends the session at once as in
AC/DC ([V2G20-2222], [V2G20-1967]). VehicleCheckIn/Out are not part of the WPT flow (they belong to the
parking status side stream, 0x8104).

Timing (Table 218, [V2G20-5069]/[V2G20-5070]): the EV waits 2 s for the setup, positioning, pairing and
alignment check answers and 0.5 s in the charge loop (timing.ISO20_EVCC_MSG_TIMEOUT); the SECC answers within
1.5 s (0.25 s in the loop) and waits 0.5 s for the next WPT_ChargeLoopReq (core.CHARGE_LOOPS), 60 s otherwise.
[V2G20-5124]'s text says Table 215 for the sequence timeout after WPT_ChargeLoopRes while Table 218 has a 0.5 s
row for exactly that; the table row is followed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ... import timing
from ...controllers import WPTMethods, WPTSupplyController, WPTVehicleController
from ..config import ConfigError, check_seconds, is_int, is_number
from ..events import Reason
from ..hooks import Hooks
from ..paused import PausedSessions
from . import messages as msg
from . import wpt_messages as W
from .config import EVCC20Config, SECC20Config
from .core import Core
from .extend import ExtendedEVCC, ExtendedSECC, Stop, common_rules
from .services import ServiceID

__all__ = ["WPT_RULES", "WPTCore", "WPTEVCCConfig", "WPTEVCCSession", "WPTSECCConfig", "WPTSECCSession"]

_S = frozenset({"SessionStop"})
_REPOSITION = frozenset({"WPT_FinePositioningSetup"}) | _S

#: After a response to <key>, the next request must be one of these (SECC view; both roles check it). Keys
#: carry the outcome: ":Ongoing"/":Finished" from EVSEProcessing (or the EV's EVProcessing=Finished,
#: [V2G20-5027]), ":Warning" for WARNING_WPT. SessionStop is allowed wherever no power flows, as for AC/DC.
WPT_RULES: dict[str, frozenset[str]] = common_rules(**{
    "SessionSetup": frozenset({"WPT_FinePositioningSetup"}) | _S,  # [V2G20-5043], [V2G20-5042]
    "SessionSetup:Resumed:WPT": frozenset({"WPT_ChargeParameterDiscovery"}) | _S,  # [V2G20-5046]
    "WPT_FinePositioningSetup": frozenset({"WPT_FinePositioning", "WPT_FinePositioningSetup"}) | _S,  # [V2G20-5085], [V2G20-5024]
    "WPT_FinePositioning:Ongoing": frozenset({"WPT_FinePositioning"}) | _S,  # [V2G20-5025], [V2G20-5026]
    "WPT_FinePositioning:Finished": frozenset({"WPT_Pairing"}) | _S,  # [V2G20-5027], [V2G20-5029]
    "WPT_FinePositioning:Warning": _REPOSITION,  # [V2G20-5055]
    "WPT_Pairing:Ongoing": frozenset({"WPT_Pairing"}) | _S,  # [V2G20-5030], [V2G20-5033]
    "WPT_Pairing:Finished": frozenset({"AuthorizationSetup"}) | _S,  # [V2G20-5032], [V2G20-5034]
    "WPT_Pairing:Warning": _REPOSITION,  # [V2G20-5054]
    "ServiceSelection:WPT": frozenset({"WPT_ChargeParameterDiscovery"}) | _S,  # [V2G20-5041]
    "WPT_ChargeParameterDiscovery": frozenset({"ScheduleExchange"}) | _S,  # as for AC/DC
    "WPT_ChargeParameterDiscovery:Warning": _REPOSITION,  # [V2G20-5062]
    "ScheduleExchange:Finished:WPT": frozenset({"WPT_AlignmentCheck"}) | _S,  # [V2G20-5045]
    "WPT_AlignmentCheck:Ongoing": frozenset({"WPT_AlignmentCheck"}) | _S,  # [V2G20-5035]
    "WPT_AlignmentCheck:Finished": frozenset({"PowerDelivery"}) | _S,  # [V2G20-5036]
    "WPT_AlignmentCheck:Warning": _REPOSITION,  # [V2G20-5057]
    "PowerDelivery:Start:WPT": frozenset({"WPT_ChargeLoop", "WPT_FinePositioningSetup"}),  # [V2G20-5123], [V2G20-5037]
    "PowerDelivery:Warning": _REPOSITION,  # [V2G20-5061]
    "PowerDelivery:Standby:WPT": frozenset({"WPT_ChargeLoop", "PowerDelivery"}),  # [V2G20-5129], as AC/DC
    "PowerDelivery:Stop:WPT": _S,  # [V2G20-5094], [V2G20-5040]
    "WPT_ChargeLoop": frozenset({"WPT_ChargeLoop", "PowerDelivery"}),  # [V2G20-5124], [V2G20-5039], [V2G20-5082]
    "WPT_ChargeLoop:Warning": frozenset({"WPT_AlignmentCheck", "WPT_Pairing"}) | _S,  # [V2G20-5058]
    # after a FAILED to a WPT message: the EV ends the session ([V2G20-5067])
    "Failed": _S,
})

#: WPT requests whose FAILED answer the EV follows with SessionStopReq ([V2G20-5067])
STOP_AFTER_FAILED = frozenset({"WPT_FinePositioningSetup", "WPT_FinePositioning", "WPT_Pairing",
                               "WPT_AlignmentCheck", "WPT_ChargeLoop"})
#: ... except these codes, after which the SECC stops at once ([V2G20-1482], [V2G20-2222] for a request it did
#: not expect or of another session), so a SessionStopReq would find nobody
_STOPPING_CODES = frozenset({"FAILED_SequenceError", "FAILED_UnknownSession"})
_LOOPED = frozenset({"WPT_FinePositioning", "WPT_Pairing", "WPT_AlignmentCheck"})
_WARNABLE = _LOOPED | {"WPT_ChargeParameterDiscovery", "PowerDelivery", "WPT_ChargeLoop"}


class WPTCore(Core):
    """The -20 core with the WPT keys: ":Ongoing"/":Finished" for the looped WPT messages and ":Warning" for a
    WARNING_WPT answer; everything else as for AC/DC."""

    def key(self, name: str, req: Any, res: Any) -> str:
        if name in _WARNABLE and msg.response_code(res) == "WARNING_WPT":
            return f"{name}:Warning"
        if name in _LOOPED:
            finished = msg.processing(res) == "Finished" or msg.processing(req) == "Finished"
            return f"{name}:{'Finished' if finished else 'Ongoing'}"
        return super().key(name, req, res)


# ============================================================================================== SECC

@dataclass
class WPTSECCConfig(SECC20Config):
    """The charger's side, plus: what a failed pairing is answered with (the -20 text leaves FAILED or
    WARNING_WPT to the implementation, NOTE 1 of [V2G20-5016]; WARNING_WPT lets the EV position and pair
    again) and how long the SECC lets positioning, pairing and the alignment check go on (Ongoing) before it
    answers FAILED (default V2G_SECC_Ongoing_Performance_Time, Table 215: no WPT-specific value is known)."""

    pairing_failure: str = "WARNING_WPT"
    positioning_limit: float = timing.ISO20_SECC_ONGOING_PERFORMANCE_TIME

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pairing_failure not in ("WARNING_WPT", "FAILED"):
            raise ConfigError("pairing_failure", f"must be WARNING_WPT or FAILED, not {self.pairing_failure!r}")
        check_seconds(self, "positioning_limit")


class WPTSECCSession(ExtendedSECC):
    """The charger's side of one WPT session: a primary device (``WPTSupplyController``) behind an SECC."""

    OWN: ClassVar[dict[str, str]] = {
        "WPT_FinePositioningSetup": "_on_setup",
        "WPT_FinePositioning": "_on_fine_positioning",
        "WPT_Pairing": "_on_pairing",
        "WPT_ChargeParameterDiscovery": "_on_charge_parameters",
        "WPT_AlignmentCheck": "_on_alignment_check",
        "WPT_ChargeLoop": "_on_loop",
    }
    BUILD: ClassVar[dict[str, str]] = {
        "WPT_FinePositioningSetup": "_setup_res",
        "WPT_FinePositioning": "_fine_positioning_res",
        "WPT_Pairing": "_pairing_res",
        "WPT_ChargeParameterDiscovery": "_charge_parameters_res",
        "WPT_AlignmentCheck": "_alignment_check_res",
        "WPT_ChargeLoop": "_loop_res",
    }

    def __init__(self, protocol: str, evse: WPTSupplyController, config: WPTSECCConfig | None = None,
                 paused: PausedSessions | None = None, hooks: Hooks | None = None) -> None:
        if protocol != "iso20-wpt":
            raise ValueError(f"a WPT session runs on iso20-wpt, not {protocol!r}")
        cfg = config or WPTSECCConfig()
        if cfg.bpt:
            raise ValueError("WPT has no bidirectional service (ServiceIDs 1-7 know no WPT_BPT)")
        super().__init__(WPTCore(protocol, hooks, rules=WPT_RULES), evse, cfg, paused, (ServiceID.WPT,))
        self.evse: WPTSupplyController = evse
        self.cfg: WPTSECCConfig = cfg
        self.agreed: WPTMethods | None = None
        self._checking = False
        self._ev_max_power = math.inf

    # -- handlers ----------------------------------------------------------------------------------
    def _on_setup(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        # a (re)positioning: no power while the car moves ([V2G20-5123], [V2G20-5061])
        self.evse.stop_output()
        self._checking = False
        for what in _LOOPED:
            self.common._since.pop(what, None)
        theirs, ours = W.methods_of(req), self.evse.methods()
        if msg.processing(req) != "Finished":
            return "OK", ours  # the offer: ours, the EV picks
        if not theirs.single() or ours.common(theirs) != theirs:
            self._why = f"the EV chose {theirs}; this primary device has {ours}"
            return "FAILED", None
        self.agreed = theirs
        return "OK", theirs  # the choice confirmed, one method per list ([V2G20-5006])

    def _ongoing(self, now: float, what: str, req: Any) -> tuple[str, str] | None:
        """(code, processing) while the EV is still at it (EVProcessing Ongoing), None when it says done."""
        if msg.processing(req) == "Finished":
            self.common._since.pop(what, None)
            return None
        return self.common._ongoing(now, what, self.cfg.positioning_limit, False)

    def _on_fine_positioning(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if W.result_code(req) == "EVResultFailed":
            self.common._since.pop("WPT_FinePositioning", None)
            self._why = "the EV could not position"
            return "WARNING_WPT", "Finished"  # [V2G20-5055]: set up and position again
        going = self._ongoing(now, "WPT_FinePositioning", req)
        if going is not None:
            return going
        if not self.evse.aligned():
            self._why = "the EV device stopped outside the primary device's alignment tolerance"
            return "WARNING_WPT", "Finished"
        return "OK", "Finished"

    def _on_pairing(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        failed = W.result_code(req) == "EVResultFailed"
        if not failed:
            going = self._ongoing(now, "WPT_Pairing", req)
            if going is not None:
                return going
        self.common._since.pop("WPT_Pairing", None)
        code = req.observed_id_code
        if failed or code != self.evse.pairing_code():  # [V2G20-5016], [V2G20-5065]; [V2G20-5017]
            self._why = "the EV could not pair" if failed else f"the EV observed pairing code {code}, not this one"
            return self.cfg.pairing_failure, "Finished"
        return "OK", "Finished"

    def _on_charge_parameters(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        """The final compatibility check (IEC 61980-2): ground clearances that overlap, the EV device's natural
        frequency within what the primary device can drive."""
        p = self.evse.wpt_parameters()
        ev_min, ev_max = req.sd_min_ground_clearence, req.sd_max_ground_clearence
        freq = msg.value_of(req.evpc_natural_frequency)
        lo, hi = p.frequency_range
        if ev_min > ev_max or ev_min > p.max_ground_clearance or ev_max < p.min_ground_clearance:
            self._why = (f"ground clearance {ev_min}..{ev_max} mm, the primary device supports "
                         f"{p.min_ground_clearance}..{p.max_ground_clearance} mm")
            return "FAILED_WrongChargeParameter", None
        if not lo <= freq <= hi:
            self._why = f"EV natural frequency {freq:g} Hz outside {lo:g}..{hi:g} Hz"
            return "FAILED_WrongChargeParameter", None
        self._ev_max_power = max(msg.value_of(req.evpc_max_receivable_power), 0.0)
        return "OK", None

    def _on_alignment_check(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        if not self._checking:
            self._checking = True
            self.evse.start_alignment_check(None if req.target_coil_current is None
                                            else msg.value_of(req.target_coil_current))
        reading = self.evse.alignment_check_result()
        going = self._ongoing(now, "WPT_AlignmentCheck", req)
        if going is not None:
            if msg.is_failed(going[0]):
                self._checking = False
            return going[0], (going[1], reading)
        self._checking = False
        self.evse.stop_output()  # the test field off
        if W.result_code(req) == "EVResultFailed" or not self.evse.aligned():
            self._why = "the EV found the power check short" if W.result_code(req) == "EVResultFailed" else \
                "the EV device is outside the primary device's alignment tolerance"
            return "WARNING_WPT", ("Finished", reading)  # [V2G20-5057]
        return "OK", ("Finished", reading)

    def handle_common(self, name: str, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        code, extra = super().handle_common(name, now, sid, req)
        if (name == "PowerDelivery" and code == "OK" and msg.charge_progress(req) == "Start"
                and msg.processing(req) == "Finished" and not self.evse.aligned()):
            self._why = "the EV device moved out of alignment"
            return "WARNING_WPT", None  # [V2G20-5061]
        return code, extra

    def _on_loop(self, now: float, sid: bytes, req: Any) -> tuple[str, Any]:
        evse = self.evse
        v = W.charge_loop_values(req)
        extra: dict[str, Any] = {"request": v.power_request, "meter": req.meter_info_requested,
                                 "diagnostics": "SPCNoIssue", "notification": None}
        if evse.emergency_shutdown():
            evse.stop_output()
            extra.update(notification="Terminate", diagnostics=evse.diagnostics())
            return "OK", extra
        diagnostics = evse.diagnostics()
        if diagnostics != "SPCNoIssue":  # foreign or living object, overheating: the pad stops and says why
            evse.stop_output()
            extra.update(notification="Terminate", diagnostics=diagnostics)
            return "OK", extra
        if not evse.aligned():
            evse.stop_output()
            self._why = "the EV device moved out of alignment"
            extra["diagnostics"] = "SPCPowerTransferAnomalyDetected"
            return "WARNING_WPT", extra  # [V2G20-5058]: the EV checks the alignment or pairs again
        p = evse.wpt_parameters()
        evse.set_power(max(0.0, min(v.power_request, p.max_output_power, self._ev_max_power)))
        extra["notification"] = self.common._notification()[0]
        return "OK", extra

    # -- builders: session state only, any code ------------------------------------------------------
    def _setup_res(self, code: str, extra: Any) -> Any:
        if isinstance(extra, WPTMethods):
            return W.fine_positioning_setup_res(code, extra)
        return W.fine_positioning_setup_res(code) if msg.is_failed(code) else \
            W.fine_positioning_setup_res(code, self.evse.methods())

    def _fine_positioning_res(self, code: str, extra: Any) -> Any:
        return W.fine_positioning_res(code, extra or "Finished")

    def _pairing_res(self, code: str, extra: Any) -> Any:
        return W.pairing_res(code, extra or "Finished")

    def _charge_parameters_res(self, code: str, extra: Any) -> Any:
        p = self.evse.wpt_parameters()
        return W.charge_parameter_res(code, p.power_class, p.min_output_power, p.max_output_power,
                                      p.max_ground_clearance, p.min_ground_clearance, p.min_coil_current,
                                      p.max_coil_current)

    def _alignment_check_res(self, code: str, extra: Any) -> Any:
        processing, reading = extra or ("Finished", None)
        power, current = reading or (None, None)
        return W.alignment_check_res(code, processing, power, current)

    def _loop_res(self, code: str, extra: Any) -> Any:
        p = self.evse.wpt_parameters()
        if extra is None:
            return W.charge_loop_res(code, 0.0, p.max_output_power, p.min_output_power)
        n = extra["notification"]
        delay = timing.ISO20_NOTIFICATION_MAX_DELAY if n in ("Pause", "ServiceRenegotiation") else 0
        return W.charge_loop_res(code, extra["request"], p.max_output_power, p.min_output_power,
                                 extra["diagnostics"], power_input=self.evse.input_power(), notification=n,
                                 max_delay=delay, meter=self.common._meter() if extra["meter"] else None)

    # -- FAILED ------------------------------------------------------------------------------------
    def wind_down(self, name: str, code: str) -> str | None:
        if name in STOP_AFTER_FAILED and code not in _STOPPING_CODES:
            self.evse.stop_output()
            return "Failed"  # the EV ends it with SessionStopReq ([V2G20-5067])
        return None


# ============================================================================================== EVCC

@dataclass
class WPTEVCCConfig(EVCC20Config):
    """The car's side, plus: how long it keeps fine positioning, pairing or the alignment check going (no
    -20 value is known; v2gkit uses V2G_EVCC_Ongoing_Timeout, Table 215), how often it positions again after
    WARNING_WPT before it gives up, and the TargetCoilCurrent it asks for in the alignment check (A)."""

    positioning_timeout: float = timing.ISO20_EVCC_ONGOING_TIMEOUT
    max_positioning_attempts: int = 3
    target_coil_current: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bpt:
            raise ConfigError("bpt", "WPT has no bidirectional service")
        check_seconds(self, "positioning_timeout")
        if not is_int(self.max_positioning_attempts) or self.max_positioning_attempts < 1:
            raise ConfigError("max_positioning_attempts", f"must be a whole number >= 1, not "
                                                          f"{self.max_positioning_attempts!r}")
        if self.target_coil_current is not None and not (is_number(self.target_coil_current)
                                                         and self.target_coil_current >= 0):
            raise ConfigError("target_coil_current", f"must be a number of A >= 0, not {self.target_coil_current!r}")


class WPTEVCCSession(ExtendedEVCC):
    """The car's side of one WPT session: an EV device (``WPTVehicleController``) behind an EVCC."""

    PLAN: ClassVar[dict[str, str]] = {
        "SessionSetup": "_after_session_setup",  # -> WPT_FinePositioningSetup | WPT_CPD (resumed)
        "WPT_FinePositioningSetup": "_after_setup",  # offer answered -> choice; choice confirmed -> positioning
        "WPT_FinePositioning": "_after_fine_positioning",  # Ongoing -> again; Finished -> WPT_Pairing
        "WPT_Pairing": "_after_pairing",  # Ongoing -> again; Finished -> AuthorizationSetup
        "AuthorizationSetup": "_after_authorization_setup",
        "Authorization": "_after_authorization",
        "ServiceDiscovery": "_after_service_discovery",  # -> ServiceDetail of WPT
        "ServiceDetail": "_after_service_detail",
        "ServiceSelection": "_after_service_selection",  # -> WPT_ChargeParameterDiscovery
        "WPT_ChargeParameterDiscovery": "_after_charge_parameters",  # -> ScheduleExchange
        "ScheduleExchange": "_after_schedule_exchange",  # -> WPT_AlignmentCheck
        "WPT_AlignmentCheck": "_after_alignment_check",  # -> PowerDelivery(Start)
        "PowerDelivery": "_after_power_delivery",  # Start -> loop; Stop -> SessionStop
        "WPT_ChargeLoop": "_after_loop",  # -> loop | PowerDelivery(Stop) | WPT_AlignmentCheck (WARNING_WPT)
        "SessionStop": "_after_session_stop",
    }
    BUILD: ClassVar[dict[str, str]] = {
        "WPT_FinePositioningSetup": "_setup_req",
        "WPT_FinePositioning": "_fine_positioning_req",
        "WPT_Pairing": "_pairing_req",
        "WPT_ChargeParameterDiscovery": "_charge_parameters_req",
        "WPT_AlignmentCheck": "_alignment_check_req",
        "WPT_ChargeLoop": "_loop_req",
    }
    LOOPS = frozenset({"Authorization", "ScheduleExchange", "WPT_FinePositioning", "WPT_Pairing",
                       "WPT_AlignmentCheck", "WPT_ChargeLoop"})

    def __init__(self, protocol: str, ev: WPTVehicleController, config: WPTEVCCConfig | None = None,
                 hooks: Hooks | None = None) -> None:
        if protocol != "iso20-wpt":
            raise ValueError(f"a WPT session runs on iso20-wpt, not {protocol!r}")
        cfg = config or WPTEVCCConfig()
        super().__init__(WPTCore(protocol, hooks, rules=WPT_RULES), ev, cfg, dc=False)
        self.ev: WPTVehicleController = ev
        self.cfg: WPTEVCCConfig = cfg
        #: the methods the car chose (None: it has not offered yet, or positions again)
        self.choice: WPTMethods | None = None
        self.attempts = 0  # positionings started
        self._alignment: bool | None = None

    # -- builders ------------------------------------------------------------------------------------
    def _setup_req(self) -> Any:
        if self.choice is None:
            return W.fine_positioning_setup_req(self.ev.methods(), "Ongoing", self.ev.natural_offset())
        return W.fine_positioning_setup_req(self.choice, "Finished", self.ev.natural_offset())

    def _fine_positioning_req(self) -> Any:
        done = self.ev.positioning_done()
        return W.fine_positioning_req("Finished" if done else "Ongoing", "EVResultSuccess" if done else "EVResultUnknown")

    def _pairing_req(self) -> Any:
        code = self.ev.observed_pairing_code()
        if code is None:
            return W.pairing_req("Ongoing", "EVResultUnknown")
        return W.pairing_req("Finished", "EVResultSuccess", code)

    def _charge_parameters_req(self) -> Any:
        p = self.ev.wpt_parameters()
        return W.charge_parameter_req(p.max_receivable_power, p.max_ground_clearance, p.min_ground_clearance,
                                      p.natural_frequency, p.local_control)

    def _alignment_check_req(self) -> Any:
        verdict = self._alignment
        if verdict is None:
            return W.alignment_check_req("Ongoing", "EVResultUnknown", self.cfg.target_coil_current)
        return W.alignment_check_req("Finished", "EVResultSuccess" if verdict else "EVResultFailed",
                                     self.cfg.target_coil_current)

    def _loop_req(self) -> Any:
        ev = self.ev
        return W.charge_loop_req(ev.power_request(), ev.power_output(), ev.diagnostics(),
                                 self.cfg.meter_info_requested, self.common._display())

    # -- the plan --------------------------------------------------------------------------------------
    def _reposition(self, why: str) -> str:
        """Back to WPT_FinePositioningSetup (a fresh offer), or give up after ``max_positioning_attempts``."""
        self.attempts += 1
        if self.attempts > self.cfg.max_positioning_attempts:
            return self.give_up(f"{why}; gave up after {self.cfg.max_positioning_attempts} positionings")
        self.choice, self._alignment = None, None
        for what in _LOOPED:
            self.done_polling(what)
        return "WPT_FinePositioningSetup"

    def _after_session_setup(self, now: float, res: Any, code: str) -> str:
        if code == "OK_OldSessionJoined":  # [V2G20-5046]: no positioning, no authorization
            self.common.service, self.common.bpt = ServiceID.WPT, False
            return "WPT_ChargeParameterDiscovery"
        return self._reposition("")  # the first positioning ([V2G20-5042])

    def _after_setup(self, now: float, res: Any, code: str) -> str:
        theirs = W.methods_of(res)
        if self.choice is None:
            choice = self.ev.methods().common(theirs)
            if choice is None:
                return self.give_up(f"no method in common: the car has {self.ev.methods()}, the primary device "
                                    f"{theirs}")
            self.choice = choice
            return "WPT_FinePositioningSetup"  # the choice, one method per list ([V2G20-5006], [V2G20-5024])
        if theirs != self.choice:
            return self.give_up(f"the primary device answered the choice {self.choice} with {theirs}")
        self.ev.start_positioning()
        return "WPT_FinePositioning"

    def _after_fine_positioning(self, now: float, res: Any, code: str) -> str:
        if code == "WARNING_WPT":
            return self._reposition("fine positioning refused (WARNING_WPT)")  # [V2G20-5055]
        if msg.processing(res) == "Finished" or msg.processing(self.sent) == "Finished":
            self.done_polling("WPT_FinePositioning")
            return "WPT_Pairing"  # [V2G20-5027], [V2G20-5029]
        return self.poll(now, "WPT_FinePositioning", self.cfg.positioning_timeout)

    def _after_pairing(self, now: float, res: Any, code: str) -> str:
        if code == "WARNING_WPT":
            return self._reposition("pairing refused (WARNING_WPT)")  # [V2G20-5054]
        if msg.processing(res) == "Finished" or msg.processing(self.sent) == "Finished":
            self.done_polling("WPT_Pairing")
            return "AuthorizationSetup"  # [V2G20-5032], [V2G20-5034]
        return self.poll(now, "WPT_Pairing", self.cfg.positioning_timeout)

    def _after_authorization_setup(self, now: float, res: Any, code: str) -> str:
        return self.common._after_authorization_setup(now, res, code)

    def _after_authorization(self, now: float, res: Any, code: str) -> str:
        return self.common._after_authorization(now, res, code)

    def _after_service_discovery(self, now: float, res: Any, code: str) -> str:
        offered = [s.service_id for s in res.energy_transfer_service_list.service]
        if self.common.renegotiation_supported is None:  # only the first answer counts ([V2G20-1480])
            self.common.renegotiation_supported = bool(res.service_renegotiation_supported)
        if ServiceID.WPT not in offered:
            return self.give_up(f"SECC offers services {offered}: no WPT")
        self.common.service, self.common.bpt = ServiceID.WPT, False
        return "ServiceDetail"

    def _after_service_detail(self, now: float, res: Any, code: str) -> str:
        return self.common._after_service_detail(now, res, code)

    def _after_service_selection(self, now: float, res: Any, code: str) -> str:
        return "WPT_ChargeParameterDiscovery"  # [V2G20-5041]

    def _after_charge_parameters(self, now: float, res: Any, code: str) -> str:
        if code == "WARNING_WPT":
            return self._reposition("charge parameters refused (WARNING_WPT)")  # [V2G20-5062]
        return "ScheduleExchange"

    def _after_schedule_exchange(self, now: float, res: Any, code: str) -> str:
        nxt = self.common._after_schedule_exchange(now, res, code)
        if nxt == "PowerDelivery" and self.core.state != "ScheduleExchange:Renegotiated":
            self._alignment = None
            return "WPT_AlignmentCheck"  # [V2G20-5045]
        return nxt

    def _after_alignment_check(self, now: float, res: Any, code: str) -> str:
        if code == "WARNING_WPT":
            return self._reposition("alignment check failed (WARNING_WPT)")  # [V2G20-5057]
        if msg.processing(self.sent) == "Finished":
            self.done_polling("WPT_AlignmentCheck")
            self.common._progress = "Start"
            return "PowerDelivery"  # [V2G20-5036]
        if res.power_transmitted is not None and msg.value_of(res.power_transmitted) > 0:
            self._alignment = self.ev.alignment_result(msg.value_of(res.power_transmitted))
        return self.poll(now, "WPT_AlignmentCheck", self.cfg.positioning_timeout)  # [V2G20-5035]

    def _after_power_delivery(self, now: float, res: Any, code: str) -> str:
        if code == "WARNING_WPT":
            return self._reposition("PowerDelivery refused (WARNING_WPT)")  # [V2G20-5061]
        progress = self.common._progress
        if progress == "Start":
            self.common._schedule_start = now
            return "WPT_ChargeLoop"  # [V2G20-5037]
        if progress == "ScheduleRenegotiation":
            return "ScheduleExchange"
        return "SessionStop"  # [V2G20-5040]

    def _after_loop(self, now: float, res: Any, code: str) -> str:
        if code == "WARNING_WPT":
            self._alignment = None
            return "WPT_AlignmentCheck"  # [V2G20-5058]
        notification, _ = msg.notification(res)
        self.common.evse_notification = notification
        ev = self.ev
        if notification == "Terminate" or ev.wants_stop() or ev.charging_complete():
            return self.common._stop("Terminate")  # [V2G20-5082]
        if notification == "Pause" or ev.wants_pause():
            return self.common._stop("Pause")
        if notification == "ServiceRenegotiation" and self.common.renegotiation_supported:
            return self.common._stop("ServiceRenegotiation")
        if notification == "ScheduleRenegotiation":
            self.common._progress = "ScheduleRenegotiation"
            return "PowerDelivery"
        return "WPT_ChargeLoop"  # [V2G20-5039]

    def _after_session_stop(self, now: float, res: Any, code: str) -> str | None:
        if self.final is not None:
            return None
        return self.common._after_session_stop(now, res, code)

    # -- FAILED ---------------------------------------------------------------------------------------
    def on_failed(self, now: float, name: str, code: str, detail: str) -> str | None:
        if name in STOP_AFTER_FAILED and code not in _STOPPING_CODES:
            self.final = (Reason.FAILED_RESPONSE, detail)
            self.common._stop_session = "Terminate"
            self.core.state, self.core.expected = "Failed", self.core.rules["Failed"]
            return "SessionStop"  # [V2G20-5067]
        raise Stop(Reason.FAILED_RESPONSE, detail)
