local evseId = 'KR*TC1*ISO1*001'
Secc.Set_SessionSetupRes_EVSEID(evseId)

local responseCode = ResponseCodeType.FAILED_SequenceError
Secc.Set_SessionSetupRes_ResponseCode(responseCode)

Secc.Send_SessionSetupRes_001()
