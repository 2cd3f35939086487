"""TLS fault profiles: the tester's side of TLS for conformance cases, good and deliberately broken.

A profile is what the tester does on the TLS layer while it plays one role with one protocol: the good case
(ISO 15118-2: TLS 1.2 with the -2 suites on secp256r1; ISO 15118-20: TLS 1.3 with mutual authentication on
secp521r1, as :mod:`v2gkit.net.tls` builds them), or one fault. :func:`context` turns a profile into the
``ssl.SSLContext`` the live driver (:mod:`v2gkit.testsys.live`) uses instead of the run's own, and
:func:`judge` gives the case its verdict from what happened on the TLS layer, because a SUT that refuses
the handshake never lets the case's script see a V2G message.

Certificates: the good ones are v2gkit's throwaway test PKI (:func:`v2gkit.pki.quick.make_test_pki` in
``<pki_dir>/iso2`` and ``<pki_dir>/iso20``, the layout ``v2gkit secc/evcc --pki`` use, so a v2gkit SUT
given the same folder trusts the tester). The SUT must trust that PKI's V2G root (a car testing the
tester's SECC certificate) and OEM root (a -20 charger checking the tester's vehicle certificate). The
broken ones are issued once per process under the same CAs (expired, not yet valid, wrong curve, RSA) or
under an impostor root with the very same names but other keys (unknown root), in a temporary folder that
is removed at exit.

Profiles (the tester's role: ``secc`` tests a car, ``evcc`` tests a charger). Requirement IDs are given
only where the repository's notes have them (ISO 15118-20, /work/notes/issue10-iso20-rules.md section 7);
the ISO 15118-2 TLS requirements have no IDs here.

=============== ===== ====== ==========================================================================
profile         role  proto  the tester ...
=============== ===== ====== ==========================================================================
good            both  both   uses the valid profile: the SUT completes the handshake and SessionSetup
unknown_root    secc  both   presents an SECC chain from an unknown V2G root (same names, other keys)
unknown_root    evcc  iso20  presents a vehicle chain from an unknown OEM root
expired         both  (a)    presents an expired leaf (SECC certificate, or -20 vehicle certificate)
not_yet_valid   both  (a)    presents a leaf whose validity starts tomorrow
tls13_only      both  iso2   offers / accepts only TLS 1.3 (ISO 15118-2 runs on TLS 1.2)
tls11_only      both  iso2   offers / accepts only TLS 1.1 (suite ECDHE-ECDSA-AES128-SHA, @SECLEVEL=0)
tls12_only      both  iso20  offers / accepts only TLS 1.2 (ISO 15118-20 runs on TLS 1.3)
weak_ciphers    both  iso2   offers / accepts only suites outside the -2 list: SHA-1 CBC and NULL
wrong_curve     both  (a)    leaf key on another curve (-2: secp384r1 instead of secp256r1; -20:
                             secp256r1 instead of secp521r1), issued by the right CA
wrong_group     secc  both   ECDHE only on X25519 (-2 wants secp256r1; -20 secp521r1 or x448)
wrong_group     evcc  iso20  offers ECDHE only on X25519 (see below for -2)
rsa_key         secc  iso2   an RSA-2048 SECC certificate (suite ECDHE-RSA-AES128-SHA256)
no_certificate  evcc  iso20  sends no vehicle certificate although the SECC asks for one
=============== ===== ====== ==========================================================================

(a): the tester SECC with both protocols; the tester EVCC only with ISO 15118-20 (in -2 the car sends no
certificate). Left out on purpose: a host name / CN mismatch (ISO 15118 peers name chargers and cars by
SECC ID and EVCCID, not DNS names; neither side checks a host name, v2gkit's client context included), and
-20 cipher-suite faults (Python's ``ssl`` cannot set the TLS 1.3 suites, see :mod:`v2gkit.net.tls`), and a
-2 charger offered only X25519 (in TLS 1.2 the supported groups also bound the curve of the server's ECDSA
certificate, and Python sets one group only: any charger with its secp256r1 certificate would refuse, so the
case would say nothing). Every fault is checked to complete its handshake against a peer that takes anything
(tests/test_tlsfaults.py), so a refusal is the SUT's and not a limit of the tester's own side.

What this OpenSSL (3.0) allows the tester: TLS 1.1 only at ``@SECLEVEL=0`` on both ends (at the default
level 1 a TLS 1.1 ECDSA handshake fails with NO_SUITABLE_SIGNATURE_ALGORITHM); TLS 1.0/1.1 version
settings are deprecated in Python 3.11 (warnings silenced here); NULL suites are listed but need
``@SECLEVEL=0``; RC4 and 3DES suites are gone from the build; one ECDHE group per context
(``set_ecdh_curve``: prime256v1, secp384r1, secp521r1, X25519, X448, ...).

A conforming SUT refuses every fault: it aborts the handshake (an alert, or it closes the connection)
and exchanges no V2G message over it; a car does not fall back to plain TCP (no new SDP request for
security 0x10 after the failure). A charger offered the wrong version may instead take it and then not
select the protocol in the app handshake: a -20 charger that also runs ISO 15118-2 on TLS 1.2 ([V2G20-2356]),
a -2 charger that also runs -20 on TLS 1.3. The tester sees a refusal as a ``tls_failed`` record in the case's
wire, or as the SUT closing the connection before any V2G message (records of :mod:`v2gkit.testsys.live`).
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import hashlib
import os
import shutil
import ssl
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .. import sdp as sdpcore
from ..net import tls as tlsmod
from ..pki.quick import (
    SECC_KEY_USAGE,
    VEHICLE_KEY_USAGE,
    CertificateAuthority,
    TestPki,
    issue_leaf,
    issue_sub_ca,
    make_root_ca,
    make_test_pki,
)
from .case import Case, CaseResult, Verdict, WireRecord

__all__ = [
    "DEFAULT_PKI",
    "PROFILES",
    "FaultPki",
    "Profile",
    "context",
    "fault_pki",
    "judge",
    "profile",
]

#: the test PKI v2gkit's own ``secc``/``evcc`` commands use by default (cli/link.py DEFAULT_PKI)
from ..pki.quick import DEFAULT_PKI

#: suites outside the ISO 15118-2 list: SHA-1 CBC and NULL (no encryption); NULL needs @SECLEVEL=0
WEAK_CIPHERS = "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0"
#: what a TLS 1.1 peer negotiates with an ECDSA certificate (TLS 1.1 needs @SECLEVEL=0 in OpenSSL 3)
TLS11_CIPHERS = "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"
#: an ECDHE group neither part allows (-2: secp256r1; -20 Table 7: secp521r1, x448)
WRONG_GROUP = "X25519"
#: leaf key curves the protocols do not use
WRONG_CURVE: dict[str, ec.EllipticCurve] = {"iso2": ec.SECP384R1(), "iso20": ec.SECP256R1()}
#: the TLS version each protocol runs on
VERSION = {"iso2": "TLSv1.2", "iso20": "TLSv1.3"}


# ---------------------------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class FaultPki:
    """The good test PKI of one protocol and the broken certificates made under it: each ``(chain, key)`` is
    a PEM chain (leaf first, then Sub-CAs) and its key file."""

    base: TestPki
    folder: Path
    secc: dict[str, tuple[Path, Path]]  # fault name -> SECC chain and key
    vehicle: dict[str, tuple[Path, Path]]  # fault name -> vehicle chain and key

    @property
    def protocol(self) -> str:
        return self.base.protocol


_TMP: list[Path] = []


def _tmp_root() -> Path:
    """One temporary folder per process for the broken certificates, removed at exit."""
    if not _TMP:
        _TMP.append(Path(tempfile.mkdtemp(prefix="v2gkit-tlsfaults-")))
        atexit.register(shutil.rmtree, _TMP[0], True)
    return _TMP[0]


def _cn(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    value = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return value if isinstance(value, str) else value.decode()


def _write(path: Path, data: bytes, mode: int) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _odd_leaf(issuer: CertificateAuthority, folder: Path, name: str, common_name: str, dc: str,
              key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, usage: tuple[str, ...]
              ) -> tuple[Path, Path]:
    """A valid leaf under ``issuer`` with a key the protocol does not use (another curve, or RSA)."""
    now = dt.datetime.now(dt.UTC)
    wanted = set(usage)
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, "v2gkit test PKI"),
                                     x509.NameAttribute(NameOID.DOMAIN_COMPONENT, dc)]))
            .issuer_name(issuer.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**{n: n in wanted for n in names}), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(aki, critical=False)
            .sign(issuer.key, hashes.SHA256() if issuer.protocol == "iso2" else hashes.SHA512()))
    pem = serialization.Encoding.PEM
    key_path = _write(folder / f"{name}.key", key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()), 0o600)
    chain = b"".join(c.public_bytes(pem) for c in (cert, *issuer.chain))
    return _write(folder / f"{name}_chain.pem", chain, 0o644), key_path


def _impostor(pki: TestPki, root: str, subs: tuple[str, str], dc: str) -> CertificateAuthority:
    """A root and two Sub-CAs with the names of the real ones but keys of their own: what a charger or car
    from another PKI (or an attacker) presents."""
    proto = pki.protocol
    real = pki.ca(root)  # type: ignore[arg-type]
    cn = real.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    fake = make_root_ca(str(cn), proto, domain_component=dc)
    sub1 = issue_sub_ca(fake, subs[0], path_length=1, domain_component=dc)
    return issue_sub_ca(sub1, subs[1], path_length=0, domain_component=dc)


@functools.lru_cache(maxsize=8)
def _build(directory: Path, protocol: str, fingerprint: str) -> FaultPki:
    """Issue every broken certificate of one protocol (``fingerprint``: of the good root, so a rebuilt test
    PKI gets new ones)."""
    base = make_test_pki(directory, protocol)  # type: ignore[arg-type]
    folder = _tmp_root() / f"{protocol}-{fingerprint[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    secc_cn, vehicle_cn = _cn(base.secc_cert), _cn(base.vehicle_cert)
    cpo, oem = base.ca("cpo_sub2"), base.ca("oem_sub2")
    fake_cpo = _impostor(base, "v2g_root", ("CPO Sub-CA 1", "CPO Sub-CA 2"), "V2G")
    fake_oem = _impostor(base, "oem_root", ("OEM Sub-CA 1", "OEM Sub-CA 2"), "OEM")
    secc: dict[str, tuple[Path, Path]] = {"good": (base.secc_chain, base.secc_key)}
    vehicle: dict[str, tuple[Path, Path]] = {"good": (base.vehicle_chain, base.vehicle_key)}
    sides = ((secc, cpo, fake_cpo, secc_cn, SECC_KEY_USAGE, "CPO", "secc"),
             (vehicle, oem, fake_oem, vehicle_cn, VEHICLE_KEY_USAGE, "OEM", "vehicle"))
    for out, ca, fake, cn, usage, dc, who in sides:
        for fault, kw, issuer in (("unknown_root", {}, fake), ("expired", {"expired": True}, ca),
                                  ("not_yet_valid", {"not_yet_valid": True}, ca)):
            leaf = issue_leaf(issuer, folder, f"{who}_{fault}", common_name=cn, key_usage=usage,
                              domain_component=dc, **kw)
            out[fault] = (leaf.chain_path, leaf.key_path)
        out["wrong_curve"] = _odd_leaf(ca, folder, f"{who}_wrong_curve", cn, dc,
                                       ec.generate_private_key(WRONG_CURVE[protocol]), usage)
    secc["rsa_key"] = _odd_leaf(cpo, folder, "secc_rsa_key", secc_cn, "CPO",
                                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                ("digital_signature", "key_encipherment"))
    return FaultPki(base, folder, secc, vehicle)


def fault_pki(pki_dir: str | os.PathLike[str] | None, protocol: str) -> FaultPki:
    """The test PKI of ``protocol`` in ``<pki_dir>/<protocol>`` (made if missing, as ``v2gkit secc --pki``
    does) and the broken certificates under it, made once per process."""
    if protocol not in VERSION:
        raise ValueError(f"TLS profiles exist for iso2 and iso20, not {protocol!r} "
                         "(DIN SPEC 70121 has no TLS)")
    directory = (Path(pki_dir) if pki_dir is not None else DEFAULT_PKI).expanduser().resolve() / protocol
    base = make_test_pki(directory, protocol)  # type: ignore[arg-type]
    return _build(directory, protocol, hashlib.sha256(base.v2g_root.read_bytes()).hexdigest())


# ---------------------------------------------------------------------------------------------- contexts


def _versions(ctx: ssl.SSLContext, version: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    """Only ``version`` (and ``ciphers`` for TLS <= 1.2)."""
    with warnings.catch_warnings():  # TLS 1.1 is deprecated in Python's ssl: that is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        ctx.maximum_version = version
        ctx.minimum_version = version
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def _group(ctx: ssl.SSLContext, group: str) -> ssl.SSLContext:
    ctx.set_ecdh_curve(group)
    return ctx


def _server(fp: FaultPki, cert: str = "good") -> ssl.SSLContext:
    """The tester SECC: net.tls.server_context with the chosen certificate; -20 asks for and verifies the
    vehicle certificate against the PKI's OEM root, as a -20 SECC does."""
    chain, key = fp.secc[cert]
    roots = [fp.base.oem_root] if fp.protocol == "iso20" else None
    return tlsmod.server_context(fp.protocol, chain, key, client_roots=roots)  # type: ignore[arg-type]


def _client(fp: FaultPki, cert: str | None = "good") -> ssl.SSLContext:
    """The tester EVCC: net.tls.client_context trusting the PKI's V2G root; -20 presents the vehicle
    certificate ``cert`` (None: none). Fault profiles do not verify the charger (the fault under test is
    elsewhere; the good profile checks the charger's chain)."""
    roots = fp.base.v2g_root
    if fp.protocol == "iso20" and cert is None:  # a TLS 1.3 client without a vehicle certificate
        ctx = _versions(tlsmod.client_context("iso2+iso20", roots), ssl.TLSVersion.TLSv1_3)
    elif fp.protocol == "iso20":
        chain, key = fp.vehicle[cert or "good"]
        ctx = tlsmod.client_context("iso20", roots, cert_chain=chain, key=key)
    else:
        ctx = tlsmod.client_context("iso2", roots)
    if cert != "good":
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _fault_client(fp: FaultPki) -> ssl.SSLContext:
    """The tester EVCC's base for a protocol-level fault: the good certificate, no verification."""
    ctx = _client(fp)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass(frozen=True)
class Profile:
    """One TLS set-up of the tester: ``role`` it plays, ``protocol``, what it does (``fault``), what a
    conforming SUT does (``must``) and how to build its context."""

    name: str
    role: str  # "secc" (the tester is the charger: it tests a car) | "evcc"
    protocol: str  # "iso2" | "iso20"
    fault: str
    must: str
    build: Callable[[FaultPki], ssl.SSLContext]
    requirements: tuple[str, ...] = ()
    #: refusing by not selecting the protocol in the app handshake counts as refusing too
    negotiation_may_refuse: bool = False

    @property
    def refuse(self) -> bool:
        """A conforming SUT refuses this set-up (every profile but ``good``)."""
        return self.name != "good"

    @property
    def sut(self) -> str:
        return "car" if self.role == "secc" else "charger"


_T = ssl.TLSVersion
#: -20: TLS 1.3 only ([V2G20-2356] SECC, [V2G20-1237] EVCC, [V2G20-1805]); mutual authentication
#: ([V2G20-1264], [V2G20-2400]) with the vehicle certificate ([V2G20-2339], anchored [V2G20-2331]); groups
#: secp521r1/x448 ([V2G20-1634], [V2G20-1637], [V2G20-2460]); certificate keys secp521r1/Ed448 ([V2G20-2674],
#: [V2G20-2319]). All from /work/notes/issue10-iso20-rules.md section 7.
_R20_VERSION = ("V2G20-2356", "V2G20-1237", "V2G20-1805")
_R20_MUTUAL = ("V2G20-1264", "V2G20-2400", "V2G20-2339", "V2G20-2331")
_R20_GROUP = ("V2G20-1634", "V2G20-1637", "V2G20-2460")
_R20_KEY = ("V2G20-2674", "V2G20-2319")
_ABORT = "aborts the TLS handshake and exchanges no V2G message"


def _profiles() -> list[Profile]:
    out: list[Profile] = []
    for proto in ("iso2", "iso20"):
        iso20 = proto == "iso20"
        ver = "TLS 1.3 with mutual authentication" if iso20 else "TLS 1.2"
        keys = "secp521r1 (or Ed448)" if iso20 else "secp256r1"
        no_fallback = f"{_ABORT} and does not fall back to plain TCP"
        vehicle_cert = " with a valid vehicle certificate" if iso20 else ""
        out += [
            Profile("good", "secc", proto,
                    f"offers the valid {ver} profile with a valid SECC certificate chain",
                    f"completes the {ver} handshake and sends SessionSetupReq",
                    lambda fp: _server(fp), _R20_MUTUAL if iso20 else ()),
            Profile("good", "evcc", proto,
                    f"offers the valid {ver} profile{vehicle_cert}",
                    f"completes the {ver} handshake with a valid certificate chain and answers "
                    "SessionSetupReq",
                    lambda fp: _client(fp), _R20_MUTUAL if iso20 else ()),
            Profile("unknown_root", "secc", proto,
                    "presents an SECC certificate chain from an unknown V2G root (same names as the real "
                    "CAs, other keys)", f"does not trust the chain: it {no_fallback}",
                    lambda fp: _server(fp, "unknown_root")),
            Profile("expired", "secc", proto, "presents an expired SECC certificate under the valid chain",
                    no_fallback, lambda fp: _server(fp, "expired")),
            Profile("not_yet_valid", "secc", proto,
                    "presents an SECC certificate whose validity starts tomorrow", no_fallback,
                    lambda fp: _server(fp, "not_yet_valid")),
            Profile("wrong_group", "secc", proto, f"accepts ECDHE only on {WRONG_GROUP}",
                    f"offers no such group: it {_ABORT}", lambda fp: _group(_server(fp), WRONG_GROUP),
                    _R20_GROUP if iso20 else ()),
            Profile("wrong_curve", "secc", proto,
                    f"presents an SECC certificate with a {WRONG_CURVE[proto].name} key (issued by the valid "
                    "CPO Sub-CA 2)", f"accepts only {keys} keys: it {_ABORT}",
                    lambda fp: _server(fp, "wrong_curve"), _R20_KEY if iso20 else ()),
        ]
    tls12 = f"runs ISO 15118-2 on TLS 1.2 only: it {_ABORT}"
    weak = "only suites outside the ISO 15118-2 list (SHA-1 CBC, NULL)"
    out += [
        # ISO 15118-2: TLS 1.2, ECDHE-ECDSA(-AES128-SHA256) on secp256r1; the car sends no certificate
        Profile("tls13_only", "secc", "iso2", "accepts only TLS 1.3", tls12,
                lambda fp: _versions(_server(fp), _T.TLSv1_3)),
        Profile("tls13_only", "evcc", "iso2", "offers only TLS 1.3 and only ISO 15118-2 in the app handshake",
                "runs ISO 15118-2 on TLS 1.2 only: it aborts the handshake, or (a charger that also runs "
                "ISO 15118-20 on TLS 1.3) does not select ISO 15118-2 (no -2 session)",
                lambda fp: _versions(_fault_client(fp), _T.TLSv1_3), negotiation_may_refuse=True),
        Profile("tls11_only", "secc", "iso2", "accepts only TLS 1.1 (ECDHE-ECDSA-AES128-SHA)",
                f"does not go below TLS 1.2: it {_ABORT}",
                lambda fp: _versions(_server(fp), _T.TLSv1_1, TLS11_CIPHERS)),
        Profile("tls11_only", "evcc", "iso2", "offers only TLS 1.1 (ECDHE-ECDSA-AES128-SHA)",
                f"does not go below TLS 1.2: it {_ABORT}",
                lambda fp: _versions(_fault_client(fp), _T.TLSv1_1, TLS11_CIPHERS)),
        Profile("weak_ciphers", "secc", "iso2", f"accepts {weak}",
                f"offers only the ISO 15118-2 suites: it {_ABORT}",
                lambda fp: _ciphers(_server(fp), WEAK_CIPHERS)),
        Profile("weak_ciphers", "evcc", "iso2", f"offers {weak}",
                f"accepts only the ISO 15118-2 suites: it {_ABORT}",
                lambda fp: _ciphers(_fault_client(fp), WEAK_CIPHERS)),
        Profile("rsa_key", "secc", "iso2",
                "presents an RSA-2048 SECC certificate (suite ECDHE-RSA-AES128-SHA256)",
                f"accepts only ECDSA on secp256r1: it {_ABORT}",
                lambda fp: _ciphers(_server(fp, "rsa_key"), "ECDHE-RSA-AES128-SHA256")),
        # ISO 15118-20: TLS 1.3 only, mutual authentication
        Profile("tls12_only", "secc", "iso20", "accepts only TLS 1.2",
                f"runs ISO 15118-20 on TLS 1.3 only: it {_ABORT}",
                lambda fp: _versions(_server(fp), _T.TLSv1_2), _R20_VERSION),
        Profile("tls12_only", "evcc", "iso20", "offers only TLS 1.2 and ISO 15118-20 in the app handshake",
                "aborts the handshake, or takes TLS 1.2 and does not select ISO 15118-20 (no -20 session)",
                lambda fp: _versions(_fault_client(fp), _T.TLSv1_2), _R20_VERSION,
                negotiation_may_refuse=True),
        Profile("no_certificate", "evcc", "iso20", "sends no vehicle certificate although asked for one",
                f"requires the vehicle certificate: it {_ABORT}", lambda fp: _client(fp, None), _R20_MUTUAL),
        Profile("wrong_group", "evcc", "iso20", f"offers ECDHE only on {WRONG_GROUP}",
                f"accepts no such group: it {_ABORT}", lambda fp: _group(_fault_client(fp), WRONG_GROUP),
                _R20_GROUP),
    ]
    vehicle = {
        "unknown_root": "a vehicle certificate chain from an unknown OEM root (same names, other keys)",
        "expired": "an expired vehicle certificate under the valid OEM chain",
        "not_yet_valid": "a vehicle certificate whose validity starts tomorrow",
        "wrong_curve": f"a vehicle certificate with a {WRONG_CURVE['iso20'].name} key (issued by the valid "
                       "OEM Sub-CA 2)",
    }
    for fault, what in vehicle.items():
        out.append(Profile(fault, "evcc", "iso20", f"presents {what}", f"does not accept it: it {_ABORT}",
                           functools.partial(_client, cert=fault),
                           _R20_KEY if fault == "wrong_curve" else _R20_MUTUAL))
    return out


def _ciphers(ctx: ssl.SSLContext, ciphers: str) -> ssl.SSLContext:
    ctx.set_ciphers(ciphers)
    return ctx


#: every profile, by (name, tester role, protocol)
PROFILES: dict[tuple[str, str, str], Profile] = {(p.name, p.role, p.protocol): p for p in _profiles()}


def profile(name: str, role: str, protocol: str) -> Profile:
    """The profile ``name`` for the tester in ``role`` ("secc"/"evcc") with ``protocol`` ("iso2"/"iso20";
    "iso20-dc" etc. count as "iso20")."""
    proto = "iso20" if protocol.startswith("iso20") else protocol
    found = PROFILES.get((name, role, proto))
    if found is None:
        have = sorted(n for n, r, p in PROFILES if r == role and p == proto)
        raise ValueError(f"no TLS profile {name!r} for the tester as {role.upper()} with {protocol}; "
                         f"there are: {', '.join(have) or 'none (DIN SPEC 70121 has no TLS)'}")
    return found


def context(name: str, role: str, protocol: str, pki_dir: str | os.PathLike[str] | None = None
            ) -> ssl.SSLContext:
    """The tester's ``ssl.SSLContext`` for profile ``name`` (a server context when it plays the SECC), from
    the test PKI in ``pki_dir`` (default :data:`DEFAULT_PKI`)."""
    prof = profile(name, role, protocol)
    return prof.build(fault_pki(pki_dir, prof.protocol))


# ---------------------------------------------------------------------------------------------- verdicts


def _v2g_rx(wire: list[WireRecord]) -> list[WireRecord]:
    return [w for w in wire if w.direction == "rx" and w.channel == "tcp"]


def _asks_plain(frame: bytes) -> bool:
    """An SDP request for no transport security (0x10)."""
    try:
        return sdpcore.parse_request(frame).security is sdpcore.Security.NONE
    except sdpcore.SDPError:
        return False


def judge(case: Case, protocol: str, res: CaseResult,
          pki_dir: str | os.PathLike[str] | None = None) -> CaseResult:
    """The verdict of a TLS case from the handshake records (``tls_handshake``/``tls_failed``, the car's SDP
    requests) and the V2G messages the SUT sent (see the module docstring for what a conforming SUT does).
    ``pki_dir``: the test PKI the run used (named in the reason when the SUT refuses the good profile)."""
    prof = profile(case.tls, case.role, protocol)
    wire = res.wire
    failed = [w for w in wire if w.channel == "tls" and w.name == "tls_failed"]
    done = [w for w in wire if w.channel == "tls" and w.name == "tls_handshake"]
    sdp = [w for w in wire if w.channel == "sdp" and w.direction == "rx" and w.name == "SDPReq"]
    rx = _v2g_rx(wire)
    sut = prof.sut

    def out(verdict: Verdict, reason: str) -> CaseResult:
        return replace(res, verdict=verdict, reason=reason)

    if sdp and _asks_plain(sdp[0].frame):
        return out(Verdict.INCONC, f"the {sut} asked for plain TCP in SDP: the case needs a {sut} that asks "
                                   "for TLS")
    fallback = [w for w in sdp if failed and w.t > failed[0].t and _asks_plain(w.frame)]
    if rx and not done:  # a charger that answered a TLS request with plain TCP
        return out(Verdict.INCONC, f"no TLS: the {sut} ran V2G over plain TCP; the case needs a {sut} that "
                                   "offers TLS")
    if not prof.refuse:
        if not done:
            if failed:
                where = fault_pki_dir(protocol, pki_dir)
                trust = (f"the car must trust the V2G root in {where}" if case.role == "secc" else
                         f"the charger's chain must verify against the V2G root in {where}"
                         + (" and the charger must trust its OEM root" if prof.protocol == "iso20" else ""))
                return out(Verdict.FAIL, f"the {sut} refused a valid TLS handshake ({failed[-1].note}); "
                                         f"{trust}")
            return res
        if res.verdict is Verdict.PASS:
            return out(Verdict.PASS, f"{done[0].note}; SessionSetup exchanged")
        return res
    if rx:
        session = any(w.name.startswith("SessionSetup") for w in rx)
        if prof.negotiation_may_refuse and not res.protocol and not session:
            took = done[0].note.split(",")[0] if done else "the connection"
            return out(Verdict.PASS, f"the {sut} took {took} but did not select {protocol} in the app "
                                     "handshake")
        how = done[0].note if done else "the connection"
        return out(Verdict.FAIL, f"the {sut} accepted TLS although the tester {prof.fault}: {how}; "
                                 f"it sent {rx[0].name}")
    if fallback:
        return out(Verdict.FAIL, f"the {sut} fell back: after the TLS failure it asked for plain TCP in SDP")
    if failed:
        note = failed[0].note
        if note.endswith("ConnectionResetError"):
            note += " (it hung up without a TLS alert)"
        return out(Verdict.PASS, f"the {sut} refused the TLS handshake: {note}")
    if done:
        close = [w for w in wire if w.channel == "event" and w.name == "close"]
        if close and close[0].direction == "rx":
            return out(Verdict.PASS, f"the {sut} closed the connection before any V2G message "
                                     f"({done[0].note}; {close[0].note})")
        return out(Verdict.FAIL, f"the {sut} completed the TLS handshake ({done[0].note}) and did not close "
                                 "the connection")
    return res  # no TLS connection happened at all: the run's own verdict (inconc: no connection)


def fault_pki_dir(protocol: str, pki_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where the good test PKI of ``protocol`` lives (for messages)."""
    proto = "iso20" if protocol.startswith("iso20") else protocol
    return (Path(pki_dir) if pki_dir is not None else DEFAULT_PKI).expanduser() / proto
