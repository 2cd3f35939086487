-- @case TC_EVCC_CMN_VKT_SessionSetup_006
-- @purpose Verify that the car survives a SessionSetupRes whose EVSEID is longer than its schema allows
--          (ISO 15118-2: 38 characters, at most 37; DIN SPEC 70121: 33 octets, at most 32; ISO 15118-20:
--          256 characters, at most 255; encoded leniently): it either goes on with its next request or stops
--          the session, and does not hang (neither within V2G_EVCC_Msg_Timeout +
--          par_CMN_TCP_Connection_Termination_Timeout). Which of the two it did is logged.
-- @protocols din, iso2, iso20
-- @precondition The car has sent SessionSetupReq to the test system (the SECC).
-- @step Answer SessionSetupReq with OK_NewSessionEstablished and the over-long EVSEID.
-- @step Wait for the car's next request (ISO 15118-20: AuthorizationSetupReq, else ServiceDiscoveryReq) or the
--       end of the connection; log which came.
-- @v2gkit
local limit = 2.0 + 5.0  -- V2G_EVCC_Msg_Timeout + par_CMN_TCP_Connection_Termination_Timeout

if not Secc.Run_Until_SessionSetupRes() then
  Secc.Verdict_Inconc("the car sent no SessionSetupReq")
end
local protocol = Secc.Get_Protocol()
local iso20 = protocol:sub(1, 5) == "iso20"
local evseid
if protocol == "din" then
  evseid = string.rep("AB", 33)  -- hexBinary, 33 octets
elseif iso20 then
  evseid = "DE*V2G*E" .. string.rep("1", 248)  -- 256 characters
else
  evseid = "DE*V2G*E" .. string.rep("1", 30)  -- 38 characters
end
Secc.Set_SessionSetupRes_EVSEID(evseid)
Secc.Send_SessionSetupRes_001()
Secc.Log("sent an EVSEID of " .. #evseid .. (protocol == "din" and " hex digits" or " characters"))

Secc.Set_Receive_Timeout(limit)
local went_on
if iso20 then
  Secc.Receive_AuthorizationSetupReq_001()
  went_on = Secc.Check_Received_AuthorizationSetupReq()
else
  Secc.Receive_ServiceDiscoveryReq_001()
  went_on = Secc.Check_Received_ServiceDiscoveryReq()
end
if went_on then
  Secc.Log("the car took the EVSEID and went on")
elseif not Secc.Is_Connected() then
  Secc.Log("the car refused the EVSEID and closed the connection")
end
Secc.Verdict_Check(went_on or not Secc.Is_Connected(),
                   "the car goes on or closes within " .. limit .. " s (it must not hang)")
