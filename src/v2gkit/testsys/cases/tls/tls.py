"""TLS faults: v2gkit's own TC_SECC_CMN_VKT_TLS_* (the tester plays the EVCC against a charger) and
TC_EVCC_CMN_VKT_TLS_* (the tester plays the SECC against a car), one case per profile of
:mod:`v2gkit.testsys.tlsfaults`.

The tester's TLS context comes from the case's profile (``Case.tls``), built from the test PKI the run names
(``Target.pki_dir``, default v2gkit's ``~/.cache/v2gkit/pki``). Only live runs apply (``needs`` "tls" and
"live"). The verdict: the good profile passes when the handshake completes and SessionSetup is exchanged;
every fault passes when the SUT refuses it (the handshake fails or the SUT closes the connection, and no V2G
message comes from it; a car must not ask for plain TCP afterwards) and fails when the SUT accepts it. The
script below plays the V2G part; ``tlsfaults.judge`` (applied by ``live.run_live``) decides from the TLS
records, since a refused handshake never reaches the script.
"""

from __future__ import annotations

from collections.abc import Callable

from ...catalog import case
from ...script import Tester
from ...steps import code_of
from ...tlsfaults import Profile, profile

#: (case ID, protocol, profile): the tester is the EVCC in TC_SECC_* and the SECC in TC_EVCC_*
CASES: tuple[tuple[str, str, str], ...] = (
    ("TC_SECC_CMN_VKT_TLS_001", "iso2", "good"),
    ("TC_SECC_CMN_VKT_TLS_002", "iso2", "tls13_only"),
    ("TC_SECC_CMN_VKT_TLS_003", "iso2", "tls11_only"),
    ("TC_SECC_CMN_VKT_TLS_004", "iso2", "weak_ciphers"),
    ("TC_SECC_CMN_VKT_TLS_005", "iso20", "good"),
    ("TC_SECC_CMN_VKT_TLS_006", "iso20", "tls12_only"),
    ("TC_SECC_CMN_VKT_TLS_007", "iso20", "no_certificate"),
    ("TC_SECC_CMN_VKT_TLS_008", "iso20", "unknown_root"),
    ("TC_SECC_CMN_VKT_TLS_009", "iso20", "expired"),
    ("TC_SECC_CMN_VKT_TLS_010", "iso20", "not_yet_valid"),
    ("TC_SECC_CMN_VKT_TLS_011", "iso20", "wrong_curve"),
    ("TC_SECC_CMN_VKT_TLS_012", "iso20", "wrong_group"),
    ("TC_EVCC_CMN_VKT_TLS_001", "iso2", "good"),
    ("TC_EVCC_CMN_VKT_TLS_002", "iso2", "unknown_root"),
    ("TC_EVCC_CMN_VKT_TLS_003", "iso2", "expired"),
    ("TC_EVCC_CMN_VKT_TLS_004", "iso2", "not_yet_valid"),
    ("TC_EVCC_CMN_VKT_TLS_005", "iso2", "tls13_only"),
    ("TC_EVCC_CMN_VKT_TLS_006", "iso2", "tls11_only"),
    ("TC_EVCC_CMN_VKT_TLS_007", "iso2", "weak_ciphers"),
    ("TC_EVCC_CMN_VKT_TLS_008", "iso2", "wrong_curve"),
    ("TC_EVCC_CMN_VKT_TLS_009", "iso2", "wrong_group"),
    ("TC_EVCC_CMN_VKT_TLS_010", "iso2", "rsa_key"),
    ("TC_EVCC_CMN_VKT_TLS_011", "iso20", "good"),
    ("TC_EVCC_CMN_VKT_TLS_012", "iso20", "unknown_root"),
    ("TC_EVCC_CMN_VKT_TLS_013", "iso20", "expired"),
    ("TC_EVCC_CMN_VKT_TLS_014", "iso20", "not_yet_valid"),
    ("TC_EVCC_CMN_VKT_TLS_015", "iso20", "tls12_only"),
    ("TC_EVCC_CMN_VKT_TLS_016", "iso20", "wrong_curve"),
    ("TC_EVCC_CMN_VKT_TLS_017", "iso20", "wrong_group"),
)

_NAMES = {"iso2": "ISO 15118-2", "iso20": "ISO 15118-20"}


def _good(prof: Profile) -> Callable[[Tester], None]:
    """The valid profile: the SessionSetup exchange runs over the TLS connection."""
    if prof.role == "evcc":
        def body(t: Tester) -> None:
            got = t.expect("SessionSetupRes")
            code = code_of(got)
            t.check(code.startswith("OK"), f"SessionSetupRes ResponseCode OK* (got {code or 'none'})")
    else:
        def body(t: Tester) -> None:
            t.expect("SessionSetupReq")
            t.check(t.send("SessionSetupRes"), "SessionSetupRes sent over TLS")
    return body


def _refused(prof: Profile) -> Callable[[Tester], None]:
    """A fault: the SUT must not let the tester get to the session (``tlsfaults.judge`` looks at how it
    refused; this only covers a SUT that took the TLS set-up and went on)."""
    first = "SessionSetupReq" if prof.role == "evcc" else "SessionSetupRes"

    def body(t: Tester) -> None:
        if t.until(first):
            t.fail(f"the {prof.sut} accepted TLS although the tester {prof.fault}: the session got to "
                   f"{first}")
        t.passed(f"no V2G session over TLS where the tester {prof.fault}")
    return body


def _declare(case_id: str, protocol: str, name: str) -> None:
    role = "evcc" if case_id.startswith("TC_SECC_") else "secc"
    prof = profile(name, role, protocol)
    sut = prof.sut
    iso20 = protocol == "iso20"
    if role == "evcc":
        pre = (f"The charger answers an SDP request for TLS with TLS and runs {_NAMES[protocol]}; its SECC "
               "certificate chain ends at the V2G root of the tester's test PKI"
               + (", and it trusts that PKI's OEM root for vehicle certificates." if iso20 else "."))
    else:
        pre = (f"The car asks for TLS in SDP and runs {_NAMES[protocol]}; it trusts the V2G root of the "
               "tester's test PKI"
               + (" and presents a vehicle certificate from its OEM root." if iso20 else "."))
    steps = (f"SDP (security TLS), TCP; the tester {prof.fault}.",
             f"Check that the {sut} {prof.must}." if prof.refuse else
             f"Check that the {sut} {prof.must}, and that SessionSetup is exchanged.")
    purpose = f"Verify that, when the tester {prof.fault}, the {sut} {prof.must} ({_NAMES[protocol]})."
    title = (f"TLS {name} ({_NAMES[protocol]}): the {sut} refuses" if prof.refuse else
             f"TLS good case ({_NAMES[protocol]}): handshake and SessionSetup")
    body = _refused(prof) if prof.refuse else _good(prof)
    body.__name__ = body.__qualname__ = case_id.lower()
    case(case_id, purpose=purpose, title=title, protocols=(protocol,), requirements=prof.requirements,
         preconditions=pre, steps=steps, from_standard=False, needs=("tls", "live"), tls=name,
         quick=name in ("good", "unknown_root", "expired"))(body)


for _args in CASES:
    _declare(*_args)
