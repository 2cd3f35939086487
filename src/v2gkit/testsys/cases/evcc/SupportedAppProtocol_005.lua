-- @case TC_EVCC_CMN_VKT_SupportedAppProtocol_005
-- @purpose Verify that the car goes on with SessionSetupReq when supportedAppProtocolRes says
--          OK_SuccessfulNegotiationWithMinorDeviation (a success: the SECC speaks another minor version of
--          the protocol it picked).
-- @protocols din, iso2, iso20
-- @precondition The car has connected to the test system (the SECC) over TCP.
-- @step Receive SupportedAppProtocolReq; answer it with OK_SuccessfulNegotiationWithMinorDeviation and the
--       car's SchemaID of the protocol under test.
-- @step Check that SessionSetupReq follows within V2G_EVCC_Msg_Timeout.
-- @v2gkit
Secc.Receive_SupportedAppProtocolReq_001()
if not Secc.Check_Received_SupportedAppProtocolReq() then
  Secc.Verdict_Inconc("the car sent no SupportedAppProtocolReq")
end
Secc.Set_SupportedAppProtocolRes_ResponseCode(ResponseCodeType.OK_SuccessfulNegotiationWithMinorDeviation)
Secc.Send_SupportedAppProtocolRes_001()
Secc.Log("negotiated " .. tostring(Secc.Get_Protocol()) .. ", SchemaID "
         .. tostring(Secc.Get_SupportedAppProtocolRes_SchemaID()))

Secc.Set_Receive_Timeout(2.0)
Secc.Receive_SessionSetupReq_001()
Secc.Verdict_Check(Secc.Check_Received_SessionSetupReq(), "the car goes on with SessionSetupReq")
