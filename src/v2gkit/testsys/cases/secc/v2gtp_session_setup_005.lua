-- @case TC_SECC_CMN_VTB_V2GTPSessionSetup_005
-- @title The SECC ignores a SessionSetupReq with V2GTP invProtocolVersion 0xFF
-- @purpose Verify that the SECC ignores a SessionSetupReq whose V2GTP header has the invalid
--          'invProtocolVersion' 0xFF: it sends no SessionSetupRes, the tester detects V2G_Msg_Timeout.
-- @requirement V2G2-107
-- @protocols iso2, din, iso20
-- @precondition GoodCase up to SessionSetupReq (SDP, TCP, supportedAppProtocol handshake).
-- @step Send the SessionSetupReq with V2GTP invProtocolVersion 0xFF (the rest of the frame valid).
-- @step Check that no SessionSetupRes comes within V2G_EVCC_Msg_Timeout (2 s).

-- GoodCase: the app handshake runs with defaults until the tester is about to send SessionSetupReq
if not Evcc.Run_Until_SessionSetupReq() then
  Evcc.Verdict_Inconc("preamble did not reach SessionSetupReq")
end

Evcc.Set_V2GTP_InverseProtocolVersion(0xFF)
Evcc.Send_SessionSetupReq_001()

Evcc.Set_Receive_Timeout(2.0)  -- V2G_EVCC_Msg_Timeout(SessionSetupReq)
Evcc.Receive_SessionSetupRes_001()
Evcc.Verdict_Check(not Evcc.Check_Received_SessionSetupRes(),
                   "the SUT ignores the SessionSetupReq with invProtocolVersion 0xFF (no SessionSetupRes)")
