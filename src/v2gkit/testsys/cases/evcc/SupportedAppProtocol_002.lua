-- @case TC_EVCC_CMN_VKT_SupportedAppProtocol_002
-- @purpose Verify that the car does not start a session when supportedAppProtocolRes says
--          Failed_NoNegotiation: it sends no SessionSetupReq and closes the TCP connection within
--          par_CMN_TCP_Connection_Termination_Timeout.
-- @protocols din, iso2, iso20
-- @precondition The car has connected to the test system (the SECC) over TCP.
-- @step Receive SupportedAppProtocolReq; answer it with ResponseCode Failed_NoNegotiation and no SchemaID.
-- @step Check that no SessionSetupReq follows and that the car closes the TCP connection within 5 s.
-- @v2gkit
local termination = 5.0  -- par_CMN_TCP_Connection_Termination_Timeout (ISO 15118-4)

Secc.Receive_SupportedAppProtocolReq_001()
if not Secc.Check_Received_SupportedAppProtocolReq() then
  Secc.Verdict_Inconc("the car sent no SupportedAppProtocolReq")
end
Secc.Log("the car offers " .. Secc.Get_SupportedAppProtocolReq_AppProtocol_Count() .. " protocol(s)")

Secc.Set_SupportedAppProtocolRes_ResponseCode(ResponseCodeType.Failed_NoNegotiation)
Secc.Set_SupportedAppProtocolRes_SchemaIDSpecified(false)
Secc.Send_SupportedAppProtocolRes_001()

-- returns at once when the car closes; a SessionSetupReq within the time would be the fault
Secc.Set_Receive_Timeout(termination)
Secc.Receive_SessionSetupReq_001()
Secc.Verdict_Check(not Secc.Check_Received_SessionSetupReq(), "no SessionSetupReq after Failed_NoNegotiation")
Secc.Verdict_Check(not Secc.Is_Connected(), "the car closes the TCP connection within " .. termination .. " s")
