"""ISO 15118-20 WPT messages (V2G_CI_WPT, V2GTP payload type 0x8006), built and read from plain values.

The style of ``messages.py``: numbers are SI floats (W, A, Hz) turned into RationalNumbers here, lengths are
millimetres as the schema's unsignedShort fields carry them, enumerations are given by the XSD's own spelling
("LPE", "External confirmation", "MF-WPT3", "SPCFODDetected") or the generated member name, and every
response builder gives a schema-valid message for any response code from the code alone (the SECC answers
FAILED_* with the mandatory fields at their first value). Framing (header, payload type) is
``messages.encode``'s.

The six WPT message pairs and where the -20 text puts them (the flow is in ``wpt.py``):
WPT_FinePositioningSetup (the EV offers its fine positioning, pairing and alignment check methods, the SECC
answers with its own; with EVProcessing=Finished both lists hold the one method chosen, [V2G20-5006]),
WPT_FinePositioning (looped while positioning), WPT_Pairing (looped; the EV reports the ObservedIDCode it
saw, [V2G20-5016]..[V2G20-5018]), WPT_ChargeParameterDiscovery (the final compatibility check of IEC 61980-2),
WPT_AlignmentCheck (a low-power check of the coil alignment, looped) and WPT_ChargeLoop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...controllers import WPTMethods
from ...exi.gen import iso20_wpt
from . import messages as msg

__all__ = [
    "ALIGNMENT_CHECK_METHODS",
    "EV_DIAGNOSTICS",
    "FINE_POSITIONING_METHODS",
    "PAIRING_METHODS",
    "POWER_CLASSES",
    "SPC_DIAGNOSTICS",
    "ChargeLoopValues",
    "Methods",
    "alignment_check_req",
    "alignment_check_res",
    "charge_loop_req",
    "charge_loop_res",
    "charge_loop_values",
    "charge_parameter_req",
    "charge_parameter_res",
    "enum_name",
    "fine_positioning_req",
    "fine_positioning_res",
    "fine_positioning_setup_req",
    "fine_positioning_setup_res",
    "methods_of",
    "pairing_req",
    "pairing_res",
    "result_code",
]

_W = iso20_wpt

#: the enumerations by their XSD spelling, in XSD order
FINE_POSITIONING_METHODS: tuple[str, ...] = tuple(_W.WPT_FinePositioningMethodType._xsd)
PAIRING_METHODS: tuple[str, ...] = tuple(_W.WPT_PairingMethodType._xsd)
ALIGNMENT_CHECK_METHODS: tuple[str, ...] = tuple(_W.WPT_AlignmentCheckMethodType._xsd)
POWER_CLASSES: tuple[str, ...] = tuple(_W.WPT_PowerClassType._xsd)
EV_DIAGNOSTICS: tuple[str, ...] = tuple(_W.WPT_EVPCChargeDiagnosticsType._xsd)
SPC_DIAGNOSTICS: tuple[str, ...] = tuple(_W.WPT_SPCChargeDiagnosticsType._xsd)


def _xenum(cls: Any, v: Any) -> Any:
    """A member of ``cls`` from its XSD spelling ("External confirmation"), its member name
    ("External_confirmation") or a member."""
    if isinstance(v, cls):
        return v
    if isinstance(v, str):
        xsd = cls._xsd
        if v in xsd:
            return cls(xsd.index(v))
        if v in cls.__members__:
            return cls[v]
    raise ValueError(f"{v!r} is no {cls.__name__}: one of {', '.join(cls._xsd)}")


def enum_name(member: Any) -> str:
    """The XSD spelling of a generated enumeration member ("MF-WPT3", "External confirmation")."""
    return type(member)._xsd[int(member)]


def _r(v: float | None) -> Any:
    return None if v is None else msg.rational(v, _W)


def _rc(code: Any) -> Any:
    return msg._enum(_W.responseCodeType, code)


def _proc(processing: Any) -> Any:
    return msg._enum(_W.processingType, processing)


def _result(result: Any) -> Any:
    return _xenum(_W.WPT_EVResultType, result)


# ------------------------------------------------------------------------------------- fine positioning

#: the three method lists of WPT_FinePositioningSetup (the controllers' type: the hardware says which it has)
Methods = WPTMethods


def _lists(m: Methods, placeholder: bool) -> tuple[Any, Any, Any]:
    """The three list elements; an empty list (only in a FAILED answer) gets the XSD's first value."""
    def one(cls: Any, names: Sequence[str]) -> list[Any]:
        items = [_xenum(cls, n) for n in names]
        if len(items) > 8:
            raise ValueError(f"at most 8 {cls.__name__[4:-4]}s, not {len(items)}")
        if not items:
            if not placeholder:
                raise ValueError(f"at least one {cls.__name__[4:-4]}")
            items = [cls(0)]
        return items

    return (_W.WPT_FinePositioningMethodListType(one(_W.WPT_FinePositioningMethodType, m.fine_positioning)),
            _W.WPT_PairingMethodListType(one(_W.WPT_PairingMethodType, m.pairing)),
            _W.WPT_AlignmentCheckMethodListType(one(_W.WPT_AlignmentCheckMethodType, m.alignment_check)))


_DEFAULT = WPTMethods()
_NONE = WPTMethods((), (), ())


def fine_positioning_setup_req(methods: Methods = _DEFAULT, processing: str = "Ongoing",
                               natural_offset: int = 0) -> Any:
    """The EV's offer (EVProcessing Ongoing) or its choice (Finished, one method per list). NaturalOffset:
    the EV device's offset in mm as the EV states it."""
    fp, pa, al = _lists(methods, False)
    return _W.WPT_FinePositioningSetupReqType(None, _proc(processing), fp, pa, al, natural_offset)


def fine_positioning_setup_res(code: Any, methods: Methods = _NONE, natural_offset: int = 0) -> Any:
    """The primary device's methods (after an EV choice: exactly that choice, [V2G20-5006])."""
    fp, pa, al = _lists(methods, msg.is_failed(code))
    return _W.WPT_FinePositioningSetupResType(None, _rc(code), fp, pa, al, natural_offset)


def methods_of(body: Any) -> Methods:
    """The method lists of a WPT_FinePositioningSetupReq or -Res, XSD spellings."""
    if isinstance(body, _W.WPT_FinePositioningSetupReqType):
        lists = (body.ev_device_fine_positioning_method_list, body.ev_device_pairing_method_list,
                 body.ev_device_alignment_check_method_list)
    else:
        lists = (body.primary_device_fine_positioning_method_list, body.primary_device_pairing_method_list,
                 body.primary_device_alignment_check_method_list)
    fp, pa, al = lists
    return Methods(tuple(enum_name(x) for x in fp.wpt_fine_positioning_method),
                   tuple(enum_name(x) for x in pa.wpt_pairing_method),
                   tuple(enum_name(x) for x in al.wpt_alignment_check_method))


def fine_positioning_req(processing: str = "Ongoing", result: str = "EVResultUnknown") -> Any:
    """EVProcessing Ongoing while positioning, Finished when the EV is in place; EVResultCode its verdict."""
    return _W.WPT_FinePositioningReqType(None, _proc(processing), _result(result))


def fine_positioning_res(code: Any, processing: str = "Finished") -> Any:
    return _W.WPT_FinePositioningResType(None, _rc(code), _proc(processing))


def result_code(req: Any) -> str:
    """EVResultCode of a WPT_FinePositioning/Pairing/AlignmentCheck request: EVResultUnknown/Success/Failed."""
    return enum_name(req.ev_result_code)


# ----------------------------------------------------------------------------------------------- pairing

def pairing_req(processing: str = "Ongoing", result: str = "EVResultUnknown",
                observed_id_code: int | None = None) -> Any:
    """ObservedIDCode: the pairing code the EV observed (numericIDType 1..4294967295)."""
    return _W.WPT_PairingReqType(None, _proc(processing), observed_id_code, _result(result))


def pairing_res(code: Any, processing: str = "Finished", observed_id_code: int | None = None) -> Any:
    """ObservedIDCode: the code the SECC identified itself ([V2G20-5018])."""
    return _W.WPT_PairingResType(None, _rc(code), _proc(processing), observed_id_code)


# ------------------------------------------------------------------------------ charge parameter discovery

def charge_parameter_req(max_receivable_power: float, max_ground_clearance: int, min_ground_clearance: int,
                         natural_frequency: float, local_control: bool = False) -> Any:
    """EVPCMaxReceivablePower (W), SDMax/MinGroundClearence (mm; the XSD spells it so), EVPCNaturalFrequency
    (Hz), EVPCDeviceLocalControl."""
    return _W.WPT_ChargeParameterDiscoveryReqType(None, _r(max_receivable_power), max_ground_clearance,
                                                  min_ground_clearance, _r(natural_frequency), local_control)


def charge_parameter_res(code: Any, power_class: str = "MF-WPT1", min_output_power: float = 0.0,
                         max_output_power: float = 0.0, max_ground_clearance: int = 0,
                         min_ground_clearance: int = 0, min_coil_current: float = 0.0,
                         max_coil_current: float = 0.0) -> Any:
    """PDInputPowerClass (MF-WPT1..4), SDMin/MaxOutputPower (W), SDMax/MinGroundClearanceSupport (mm),
    PDMin/MaxCoilCurrent (A)."""
    return _W.WPT_ChargeParameterDiscoveryResType(None, _rc(code), _xenum(_W.WPT_PowerClassType, power_class),
                                                  _r(min_output_power), _r(max_output_power),
                                                  max_ground_clearance, min_ground_clearance,
                                                  _r(min_coil_current), _r(max_coil_current))


# ------------------------------------------------------------------------------------------ alignment check

def alignment_check_req(processing: str = "Ongoing", result: str = "EVResultUnknown",
                        target_coil_current: float | None = None) -> Any:
    """TargetCoilCurrent (A) the EV asks the primary device for during the check."""
    return _W.WPT_AlignmentCheckReqType(None, _proc(processing), _r(target_coil_current), _result(result))


def alignment_check_res(code: Any, processing: str = "Finished", power_transmitted: float | None = None,
                        supply_device_current: float | None = None) -> Any:
    """PowerTransmitted (W) and SupplyDeviceCurrent (A, the primary coil's) of the check."""
    return _W.WPT_AlignmentCheckResType(None, _rc(code), _proc(processing), _r(power_transmitted),
                                        _r(supply_device_current))


# ----------------------------------------------------------------------------------------------- charge loop

def charge_loop_req(power_request: float, power_output: float, diagnostics: str = "EVPCNoIssue",
                    meter_info_requested: bool = False, display: msg.DisplayParameters | None = None,
                    operating_frequency: float | None = None,
                    control: tuple[float, float, float, float] | None = None) -> Any:
    """EVPCPowerRequest and EVPCPowerOutput (W), EVPCChargeDiagnostics; ``control``: the
    EVPCPowerControlParameter (coil current request A, coil current A, output current A, output voltage V)."""
    m = _W
    ctl = None if control is None else m.WPT_EVPCPowerControlParameterType(*(_r(v) for v in control))
    return m.WPT_ChargeLoopReqType(None, msg._display(m, display), meter_info_requested, _r(power_request),
                                   _r(power_output), _xenum(m.WPT_EVPCChargeDiagnosticsType, diagnostics),
                                   _r(operating_frequency), ctl)


def charge_loop_res(code: Any, power_request: float = 0.0, max_output_power: float = 0.0,
                    min_output_power: float = 0.0, diagnostics: str = "SPCNoIssue",
                    power_input: float | None = None, operating_frequency: float | None = None,
                    coil_current: float | None = None, notification: str | None = None, max_delay: int = 0,
                    meter: msg.MeterInfo | None = None, receipt: msg.Receipt | None = None) -> Any:
    """EVPCPowerRequest echoed (W), SPCMax/MinOutputPowerLimit (W), SPCChargeDiagnostics, SDPowerInput (W,
    what the supply device draws), SPCOperatingFrequency (Hz), the primary coil current (A), an EVSEStatus
    with ``notification`` (Pause, Terminate, ...), MeterInfo and Receipt."""
    m = _W
    ctl = None if coil_current is None else m.WPT_SPCPowerControlParameterType(_r(coil_current))
    return m.WPT_ChargeLoopResType(None, _rc(code), msg._evse_status(m, notification, max_delay),
                                   msg._meter(m, meter), msg._receipt(m, receipt), _r(power_request),
                                   _r(power_input), _r(max_output_power), _r(min_output_power),
                                   _xenum(m.WPT_SPCChargeDiagnosticsType, diagnostics), _r(operating_frequency),
                                   ctl)


@dataclass(frozen=True)
class ChargeLoopValues:
    """A WPT_ChargeLoopReq or -Res read back (W; None where the message has no such field)."""

    power_request: float
    power_output: float | None = None  # Req: EVPCPowerOutput
    diagnostics: str = ""  # EVPC... (Req) or SPC... (Res)
    max_output_power: float | None = None  # Res: SPCMaxOutputPowerLimit
    min_output_power: float | None = None
    power_input: float | None = None  # Res: SDPowerInput


def charge_loop_values(body: Any) -> ChargeLoopValues:
    v = msg.value_of
    if isinstance(body, _W.WPT_ChargeLoopReqType):
        return ChargeLoopValues(v(body.evpc_power_request), v(body.evpc_power_output),
                                enum_name(body.evpc_charge_diagnostics))
    return ChargeLoopValues(v(body.evpc_power_request), None, enum_name(body.spc_charge_diagnostics),
                            v(body.spc_max_output_power_limit), v(body.spc_min_output_power_limit),
                            None if body.sd_power_input is None else v(body.sd_power_input))
