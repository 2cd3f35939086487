-- @case TC_SECC_CMN_VKT_SessionSetup_003
-- @v2gkit
-- @title The SECC keeps the SessionID of SessionSetupRes in the next response
-- @purpose Verify that the SECC keeps the SessionID it gave in SessionSetupRes: the next response
--          (ServiceDiscoveryRes; ISO 15118-20: AuthorizationSetupRes) carries the same SessionID
--          with ResponseCode OK.
-- @protocols din, iso2, iso20
-- @precondition GoodCase up to the first request after SessionSetupRes.
-- @step Note the SessionID of SessionSetupRes (OK_NewSessionEstablished).
-- @step Send the next request with that SessionID.
-- @step Check its response: ResponseCode OK and the same SessionID.

local nextMsg = "ServiceDiscovery"
if Evcc.Get_Protocol():sub(1, 5) == "iso20" then
  nextMsg = "AuthorizationSetup"
end

if not Evcc["Run_Until_" .. nextMsg .. "Req"]() then
  Evcc.Verdict_Inconc("preamble did not reach " .. nextMsg .. "Req")
end

Evcc.Verdict_Check(Evcc.Get_SessionSetupRes_ResponseCode() == ResponseCodeType.OK_NewSessionEstablished,
                   "SessionSetupRes: OK_NewSessionEstablished")
local sid = Evcc.Get_SessionSetupRes_Header_SessionID()
Evcc.Log("SessionID of the session: " .. sid)

Evcc["Send_" .. nextMsg .. "Req_001"]()
Evcc["Receive_" .. nextMsg .. "Res_001"]()
if not Evcc["Check_Received_" .. nextMsg .. "Res"]() then
  Evcc.Verdict_Fail("no " .. nextMsg .. "Res")
end
Evcc.Verdict_Check(Evcc["Get_" .. nextMsg .. "Res_ResponseCode"]() == ResponseCodeType.OK,
                   nextMsg .. "Res: ResponseCode OK")
Evcc.Verdict_Check(Evcc["Get_" .. nextMsg .. "Res_Header_SessionID"]() == sid,
                   nextMsg .. "Res carries the SessionID of SessionSetupRes")
