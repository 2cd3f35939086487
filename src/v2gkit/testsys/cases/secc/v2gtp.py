"""V2GTP headers on the V2G connection: ISO 15118-4 TC_SECC_CMN_VTB_V2GTPSessionSetup_001 (002..005 are Lua
files beside this one: ``v2gtp_session_setup_00N.lua``). For ISO 15118-20 the SessionSetup messages travel
under payload type 0x8002 (CommonMessages) instead of 0x8001."""

from __future__ import annotations

from ....v2gtp import PayloadType
from ...script import Tester
from ._common import ALL, family, reach, response, secc_case


@secc_case("TC_SECC_CMN_VTB_V2GTPSessionSetup_001", protocols=ALL, requirements=("V2G2-107",), quick=True,
           purpose="Verify that the SECC answers a SessionSetupReq framed with V2GTP protocolVersion 0x01, "
                   "invProtocolVersion 0xFE and payloadType 0x8001 with a SessionSetupRes framed the same "
                   "way (ISO 15118-20: payloadType 0x8002 both ways).",
           steps=("GoodCase up to SessionSetupReq; send it with a valid V2GTP header.",
                  "Check the SessionSetupRes header: protocolVersion 0x01, invProtocolVersion 0xFE, "
                  "payloadType 0x8001 (-20: 0x8002), payloadLength the length of its payload."))
def v2gtp_session_setup_001(t: Tester) -> None:
    reach(t, "SessionSetupReq")
    t.send("SessionSetupReq")
    got = response(t, "SessionSetup", "OK_NewSessionEstablished", "OK_OldSessionJoined")
    want = PayloadType.ISO20_COMMON if family(t) == "iso20" else PayloadType.EXI
    head = got.frame[:8]
    t.check(head[0] == 0x01, f"protocolVersion 0x{head[0]:02X} (want 0x01)")
    t.check(head[1] == 0xFE, f"invProtocolVersion 0x{head[1]:02X} (want 0xFE)")
    pt = int.from_bytes(head[2:4], "big")
    t.check(pt == want, f"payloadType 0x{pt:04X} (want 0x{int(want):04X})")
    n = int.from_bytes(head[4:8], "big")
    t.check(n == len(got.frame) - 8, f"payloadLength {n} is the payload's length ({len(got.frame) - 8})")
