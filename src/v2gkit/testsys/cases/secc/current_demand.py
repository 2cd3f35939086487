"""CurrentDemand: ISO 15118-4 TC_SECC_DC_VTB_CurrentDemand_001..009 (the tester plays the EVCC in a DC
session).

DIN SPEC 70121's CurrentDemandRes has neither ReceiptRequired nor MeterInfo: the purposes about them are for
ISO 15118-2 only, and for DIN "ReceiptRequired false" is met by its absence (DIN has no metering receipt).
Which variant applies is the SECC's configuration (ISO 15118-4 PIXIT ReceiptRequired, MeterInfo): a case whose
variant the SUT does not show is inconclusive with the reason, not failed.
"""

from __future__ import annotations

from ...emulator import Incoming
from ...script import Tester
from ._common import (
    DIN_ISO2,
    body_field,
    family,
    good,
    secc_case,
    sequence_error,
    sequence_timeout,
    unknown_session,
)
from .session_setup import FAILED_CLOSES

#: how long the tester waits for the next CurrentDemandRes while its machine loops (the loop's interval is
#: 0.1 s; V2G_EVCC_Msg_Timeout for CurrentDemandReq is 0.25 s): a longer silence means the loop has ended
NEXT_LOOP = 2.0


def _receipt(got: Incoming) -> bool | None:
    return body_field(got, "receipt_required")


def _check(t: Tester, got: Incoming, receipt: bool, meter: bool, reading: bool) -> None:
    rr = _receipt(got)
    if family(t) == "din":
        t.check(True, "ReceiptRequired false: DIN SPEC 70121 has no metering receipt (no such field)")
    elif rr is None:
        t.check(not receipt, "ReceiptRequired absent, which says no receipt is required" if not receipt else
                "ReceiptRequired is absent, want true")
    else:
        t.check(rr is receipt, f"ReceiptRequired is {str(receipt).lower()} (got {str(rr).lower()})")
    if meter:
        info = body_field(got, "meter_info")
        t.check(info is not None, "a MeterInfo")
        if reading and info is not None:
            t.check(info.meter_reading is not None, "the MeterInfo has a MeterReading "
                                                    f"({info.meter_reading})")


def _demand(t: Tester, receipt: bool = False, meter: bool = False, reading: bool = False) -> None:
    """GoodCase to CurrentDemandReq (target voltage and current from the EV simulator), then the answers of
    the loop: the first for ReceiptRequired false, the first with ReceiptRequired true for the receipt
    variants."""
    got = good(t, "CurrentDemand")
    seen = 1
    while receipt and _receipt(got) is not True:
        nxt = t.receive("CurrentDemandRes", timeout=NEXT_LOOP)
        if nxt is None:
            t.inconc(f"not applicable: the SUT never set ReceiptRequired true in {seen} CurrentDemandRes "
                     "(the case is for SECCs that ask for metering receipts, ISO 15118-4 PIXIT "
                     "ReceiptRequired = true)")
        got = nxt
        seen += 1
        t.check(got.body.response_code.name == "OK", f"CurrentDemandRes #{seen} ResponseCode OK")
    if not receipt and _receipt(got) is True:
        t.inconc("not applicable: the SUT asks for a metering receipt (ReceiptRequired true); the case is "
                 "for ReceiptRequired false")
    if meter and body_field(got, "meter_info") is None:
        t.inconc("not applicable: the SUT sends no MeterInfo in CurrentDemandRes (ISO 15118-4 PIXIT "
                 "MeterInfo)")
    if reading and body_field(got, "meter_info", "meter_reading") is None:
        t.inconc("not applicable: the SUT's MeterInfo has no MeterReading (ISO 15118-4 PIXIT MeterReading)")
    _check(t, got, receipt, meter, reading)


_GOOD = "GoodCase up to CurrentDemandReq; send it with the current SessionID, target voltage and current."


@secc_case("TC_SECC_DC_VTB_CurrentDemand_001", protocols=DIN_ISO2, quick=True,
           purpose="Verify that the SECC answers a CurrentDemandReq (current SessionID, target voltage and "
                   "current) with a CurrentDemandRes with the current SessionID, ResponseCode OK, "
                   "ReceiptRequired false and every mandatory parameter.",
           preconditions="DC; the SECC does not ask for metering receipts (PIXIT ReceiptRequired = false).",
           steps=(_GOOD, "Check the CurrentDemandRes: OK, the current SessionID, ReceiptRequired false "
                         "(absent in DIN), schema-valid."))
def current_demand_001(t: Tester) -> None:
    _demand(t)


@secc_case("TC_SECC_DC_VTB_CurrentDemand_002", protocols=("iso2",), needs=("receipt", "pnc"),
           purpose="Verify that an SECC asking for metering receipts answers CurrentDemandReq with a "
                   "CurrentDemandRes with the current SessionID, ResponseCode OK, ReceiptRequired true and "
                   "every mandatory parameter.",
           preconditions="DC; the SECC asks for metering receipts (PIXIT ReceiptRequired = true; the ISO "
                         "15118-4 PICS select Plug & Charge).",
           steps=(_GOOD, "Follow the charging loop to the first CurrentDemandRes with ReceiptRequired true "
                         "(none: inconclusive); check OK, the current SessionID, schema-valid."))
def current_demand_002(t: Tester) -> None:
    _demand(t, receipt=True)


@secc_case("TC_SECC_DC_VTB_CurrentDemand_003", protocols=DIN_ISO2, requirements=FAILED_CLOSES,
           purpose="Verify that the SECC answers a valid ServiceDiscoveryReq sent instead of "
                   "CurrentDemandReq with a ServiceDiscoveryRes with the current SessionID, "
                   "FAILED_SequenceError and every mandatory parameter, and closes the TCP connection within "
                   "par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to CurrentDemandReq; send a valid ServiceDiscoveryReq instead.",
                  "Check the ServiceDiscoveryRes: FAILED_SequenceError, the current SessionID, schema-valid.",
                  "Check that the SUT closes the TCP connection within "
                  "par_CMN_TCP_Connection_Termination_Timeout."))
def current_demand_003(t: Tester) -> None:
    sequence_error(t, "CurrentDemand")


@secc_case("TC_SECC_DC_VTB_CurrentDemand_004", protocols=DIN_ISO2, requirements=FAILED_CLOSES,
           purpose="Verify that the SECC answers a CurrentDemandReq whose SessionID is not the session's "
                   "with a CurrentDemandRes with a valid SessionID, FAILED_UnknownSession and every "
                   "mandatory parameter, and closes the TCP connection within "
                   "par_CMN_TCP_Connection_Termination_Timeout. (The purpose's condition says 'the current "
                   "SessionID'; FAILED_UnknownSession needs another one, which is what the ISO 15118-4 test "
                   "behaviour sends: a random SessionID.)",
           steps=("GoodCase up to CurrentDemandReq; send it with a SessionID that is not the session's.",
                  "Check the CurrentDemandRes: FAILED_UnknownSession, the session's or the received "
                  "SessionID, schema-valid.",
                  "Check that the SUT closes the TCP connection within "
                  "par_CMN_TCP_Connection_Termination_Timeout."))
def current_demand_004(t: Tester) -> None:
    unknown_session(t, "CurrentDemand")


@secc_case("TC_SECC_DC_VTB_CurrentDemand_005", protocols=DIN_ISO2, requirements=("V2G2-443",),
           purpose="Verify that the SECC terminates the session when no CurrentDemandReq follows its "
                   "PowerDeliveryRes (current SessionID, OK): once V2G_SECC_Sequence_Timeout has run out it "
                   "closes the TCP connection within par_CMN_TCP_Connection_Termination_Timeout.",
           steps=("GoodCase up to the PowerDeliveryRes (Start); send nothing.",
                  "Check that the SUT has closed the TCP connection by V2G_SECC_Sequence_Timeout plus "
                  "par_CMN_TCP_Connection_Termination_Timeout."))
def current_demand_005(t: Tester) -> None:
    sequence_timeout(t, "CurrentDemand", early=False)


@secc_case("TC_SECC_DC_VTB_CurrentDemand_006", protocols=("iso2",), needs=("meterinfo",),
           purpose="Verify that an SECC sending meter data answers CurrentDemandReq with a CurrentDemandRes "
                   "with the current SessionID, ResponseCode OK, ReceiptRequired false, a MeterInfo and "
                   "every mandatory parameter.",
           preconditions="DC; PIXIT ReceiptRequired = false, MeterInfo = meterInfo.",
           steps=(_GOOD, "Check the CurrentDemandRes: OK, the current SessionID, ReceiptRequired false, a "
                         "MeterInfo (none: inconclusive), schema-valid."))
def current_demand_006(t: Tester) -> None:
    _demand(t, meter=True)


@secc_case("TC_SECC_DC_VTB_CurrentDemand_007", protocols=("iso2",), needs=("receipt", "pnc", "meterinfo"),
           purpose="Verify that an SECC asking for metering receipts answers CurrentDemandReq with a "
                   "CurrentDemandRes with the current SessionID, ResponseCode OK, ReceiptRequired true, a "
                   "MeterInfo and every mandatory parameter.",
           preconditions="DC; PIXIT ReceiptRequired = true (Plug & Charge), MeterInfo sent.",
           steps=(_GOOD, "Follow the loop to the first CurrentDemandRes with ReceiptRequired true (none: "
                         "inconclusive); check OK, the current SessionID, a MeterInfo, schema-valid."))
def current_demand_007(t: Tester) -> None:
    _demand(t, receipt=True, meter=True)


@secc_case("TC_SECC_DC_VTB_CurrentDemand_008", protocols=("iso2",), needs=("meterinfo",),
           purpose="Verify that an SECC sending meter readings answers CurrentDemandReq with a "
                   "CurrentDemandRes with the current SessionID, ResponseCode OK, ReceiptRequired false, a "
                   "MeterInfo including MeterReading and every mandatory parameter.",
           preconditions="DC; PIXIT ReceiptRequired = false, MeterInfo = meterInfo, MeterReading = "
                         "meterReading.",
           steps=(_GOOD, "Check the CurrentDemandRes: OK, the current SessionID, ReceiptRequired false, a "
                         "MeterInfo with MeterReading (none: inconclusive), schema-valid."))
def current_demand_008(t: Tester) -> None:
    _demand(t, meter=True, reading=True)


@secc_case("TC_SECC_DC_VTB_CurrentDemand_009", protocols=("iso2",), needs=("receipt", "pnc", "meterinfo"),
           purpose="Verify that an SECC asking for metering receipts answers CurrentDemandReq with a "
                   "CurrentDemandRes with the current SessionID, ResponseCode OK, ReceiptRequired true, a "
                   "MeterInfo including MeterReading and every mandatory parameter.",
           preconditions="DC; PIXIT ReceiptRequired = true (Plug & Charge), MeterInfo with MeterReading.",
           steps=(_GOOD, "Follow the loop to the first CurrentDemandRes with ReceiptRequired true (none: "
                         "inconclusive); check OK, the current SessionID, a MeterInfo with MeterReading, "
                         "schema-valid."))
def current_demand_009(t: Tester) -> None:
    _demand(t, receipt=True, meter=True, reading=True)
