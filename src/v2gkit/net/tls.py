"""``ssl.SSLContext`` factories for the TLS profiles of ISO 15118.

- ISO 15118-2 (``"iso2"``): TLS 1.2 only, cipher suites ``ISO2_CIPHERS``, ECDHE on secp256r1 (prime256v1),
  only the SECC authenticates (the EVCC sends no certificate).
- ISO 15118-20 (``"iso20"``): TLS 1.3 only, mutual authentication: the SECC requires the vehicle
  certificate and checks it against the roots it is given.
- DIN SPEC 70121 (``"din"``): has no TLS; asking for a context is a configuration error.

TLS 1.3 cipher suites: Python's ``ssl`` has no call for OpenSSL's ``SSL_CTX_set_ciphersuites``, so the TLS
1.3 suites stay at OpenSSL's default ``TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:
TLS_AES_128_GCM_SHA256``. Two OpenSSL peers negotiate ``TLS_AES_256_GCM_SHA384`` (``ISO20_EXPECTED_SUITE``);
restricting the list further needs an OpenSSL config file (``Ciphersuites =`` in ``OPENSSL_CONF``).

Key logging: ``keylog=<path>`` appends the session secrets in the NSS key log format (what
``SSLKEYLOGFILE`` means to browsers and Wireshark); ``keylog="env"`` takes the path from the
``SSLKEYLOGFILE`` environment variable and logs nothing when it is unset. With ``keylog=None`` the variable
is ignored on purpose, so secrets never land on disk by accident.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict

from cryptography import x509
from cryptography.x509.oid import NameOID

TlsProtocol = Literal["iso2", "iso20", "iso2+iso20", "din"]
Profile = Literal["iso2", "iso20", "iso2+iso20"]
StrPath = str | os.PathLike[str]
KeyLog = StrPath | Literal["env"] | None

#: ISO 15118-2 suite names in OpenSSL spelling, most preferred first
_ISO2_WANTED = (
    "ECDHE-ECDSA-AES128-SHA256",  # TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    "ECDH-ECDSA-AES128-SHA256",   # TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256 (static ECDH, gone in OpenSSL 1.1)
)
#: the TLS 1.3 suite two OpenSSL peers agree on by default (see the module docstring)
ISO20_EXPECTED_SUITE = "TLS_AES_256_GCM_SHA384"
#: ISO 15118-2 ECDHE group (OpenSSL name of secp256r1)
ISO2_CURVE = "prime256v1"


class TlsConfigError(ValueError):
    """A TLS context cannot be built as asked: wrong protocol, missing or unusable certificate/key files."""


class TlsSummary(TypedDict):
    """What ``describe`` reports for logs and traces."""

    version: str | None
    cipher: str | None
    bits: int | None
    peer_cn: str | None


def _offered(cipher: str) -> bool:
    """Whether this OpenSSL build still has ``cipher`` (set_ciphers fails when nothing matches)."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        probe.set_ciphers(cipher)
    except ssl.SSLError:
        return False
    return any(c["name"] == cipher for c in probe.get_ciphers())


#: the ISO 15118-2 TLS 1.2 suites this OpenSSL offers (static ECDH only where the build still has it)
ISO2_CIPHERS: tuple[str, ...] = tuple(c for c in _ISO2_WANTED if _offered(c))
#: False on OpenSSL >= 1.1.0, which removed the static ECDH suites
STATIC_ECDH_AVAILABLE: bool = "ECDH-ECDSA-AES128-SHA256" in ISO2_CIPHERS


def _check_protocol(protocol: str) -> Profile:
    """Accept the ISO profiles; DIN and anything else get an error naming the fix.

    ``iso2+iso20`` is for a charger or car that speaks both: TLS 1.2 (ISO 15118-2 suites) or 1.3, the
    client certificate asked for but optional; the negotiated version then decides which protocols
    the app handshake may offer (ISO 15118-20 only over TLS 1.3, see v2gkit.net.link)."""
    if protocol == "din":
        raise TlsConfigError("DIN SPEC 70121 has no TLS: run DIN sessions over plain TCP (SDP security 0x10) "
                             "and do not build a TLS context for them")
    if protocol == "iso2":
        return "iso2"
    if protocol == "iso20":
        return "iso20"
    if protocol == "iso2+iso20":
        return "iso2+iso20"
    raise TlsConfigError(f"unknown protocol {protocol!r}: use 'iso2' (TLS 1.2), 'iso20' (TLS 1.3) "
                         "or 'iso2+iso20' (either)")


def _base(protocol: Profile, purpose: int) -> ssl.SSLContext:
    """Version, suites and hardening options shared by client and server."""
    ctx = ssl.SSLContext(purpose)
    for flag in ("OP_NO_COMPRESSION", "OP_NO_TICKET", "OP_NO_RENEGOTIATION"):
        ctx.options |= getattr(ssl, flag, 0)  # absent on old builds; each only removes features
    if protocol != "iso20":
        if not ISO2_CIPHERS:
            raise TlsConfigError(f"this OpenSSL ({ssl.OPENSSL_VERSION}) offers none of the ISO 15118-2 "
                                 f"suites {', '.join(_ISO2_WANTED)}; use an OpenSSL build with ECDHE-ECDSA")
        ctx.set_ciphers(":".join(ISO2_CIPHERS))
        if protocol == "iso2":
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ecdh_curve(ISO2_CURVE)
            return ctx
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if protocol != "iso2":
        if not ssl.HAS_TLSv1_3:
            raise TlsConfigError(f"this OpenSSL ({ssl.OPENSSL_VERSION}) has no TLS 1.3, which ISO 15118-20 "
                                 "requires; use OpenSSL 1.1.1 or newer")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        if protocol == "iso20":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            # Table 7: secp521r1 or x448 ([V2G20-1634], [V2G20-1637]). Python's ssl sets one group only, so
            # x448 is not offered: a peer that insists on it cannot connect, rather than one on X25519 can.
            ctx.set_ecdh_curve(ISO20_CURVE)
    return ctx


#: the key exchange group of v2gkit's ISO 15118-20 TLS (Table 7 also allows x448, see _base)
ISO20_CURVE = "secp521r1"


def peer_key_problem(ssl_object: Any) -> str | None:
    """Why the peer's certificate may not be used on this connection, or None. Over TLS 1.3 (v2gkit speaks it
    for ISO 15118-20 only) the leaf key must be secp521r1 ([V2G20-2674]) or Ed448 ([V2G20-2319]); Python's
    ssl cannot restrict the signature algorithms, so this is checked once the handshake is done."""
    if ssl_object is None or ssl_object.version() != "TLSv1.3":
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if der is None:
        return None  # no certificate at all: the context's verify_mode decided that already
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed448

    key = x509.load_der_x509_certificate(der).public_key()
    if isinstance(key, ed448.Ed448PublicKey):
        return None
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp521r1":
        return None
    kind = key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
    return (f"peer certificate key is {kind}; ISO 15118-20 TLS needs secp521r1 or Ed448 "
            f"([V2G20-2674], [V2G20-2319])")


def _existing(path: StrPath, what: str) -> str:
    """The path as str, or an error naming the missing file."""
    p = Path(path)
    if not p.is_file():
        raise TlsConfigError(f"{what} file not found: {p}; create a test PKI with "
                             "v2gkit.pki.quick.make_test_pki() or pass the right path")
    return str(p)


def _load_chain(ctx: ssl.SSLContext, cert_chain: StrPath, key: StrPath) -> None:
    """Load our certificate chain (leaf first, then Sub-CAs) and its key."""
    certfile = _existing(cert_chain, "certificate chain")
    keyfile = _existing(key, "private key")

    def no_password() -> bytes:
        """Called only for an encrypted key: fail instead of letting OpenSSL prompt on the terminal."""
        raise TlsConfigError(f"private key {keyfile} is encrypted; v2gkit needs an unencrypted PEM key file")

    try:
        ctx.load_cert_chain(certfile, keyfile, password=no_password)
    except ssl.SSLError as e:
        raise TlsConfigError(
            f"cannot use certificate chain {certfile} with key {keyfile} ({e.reason or e}); "
            "the chain must be PEM with the leaf first and the key must belong to that leaf") from e


def _load_roots(ctx: ssl.SSLContext, roots: StrPath | Sequence[StrPath], what: str) -> None:
    """Trust anchors from one PEM file or several."""
    files = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    if not files:
        raise TlsConfigError(f"no {what} given; pass at least one PEM root certificate file")
    for root in files:
        cafile = _existing(root, what)
        try:
            ctx.load_verify_locations(cafile=cafile)
        except ssl.SSLError as e:
            raise TlsConfigError(f"cannot load {what} from {cafile} ({e.reason or e}); "
                                 "it must hold PEM certificates") from e


def _set_keylog(ctx: ssl.SSLContext, keylog: KeyLog) -> None:
    """Point OpenSSL's key log at a file (NSS format), resolving ``"env"`` to ``$SSLKEYLOGFILE``."""
    if keylog is None:
        return
    if isinstance(keylog, str) and keylog == "env":
        from_env = os.environ.get("SSLKEYLOGFILE")
        if not from_env:
            return
        keylog = from_env
    path = os.fspath(keylog)
    try:
        ctx.keylog_filename = path
    except OSError as e:
        raise TlsConfigError(f"cannot open key log file {path} ({e.strerror or e}); "
                             "create its folder or choose a writable path") from e


def server_context(
    protocol: TlsProtocol,
    cert_chain: StrPath,
    key: StrPath,
    *,
    client_roots: StrPath | Sequence[StrPath] | None = None,
    keylog: KeyLog = None,
) -> ssl.SSLContext:
    """The SECC's context. ``cert_chain`` = SECC leaf + CPO Sub-CA 2 + Sub-CA 1 in one PEM file.

    iso2: TLS 1.2, no client certificate. iso20: TLS 1.3, the vehicle certificate is required and
    verified against ``client_roots`` (OEM roots and/or the V2G root). No session tickets are sent.
    """
    checked = _check_protocol(protocol)
    if checked == "iso2" and client_roots is not None:
        raise TlsConfigError("ISO 15118-2 TLS authenticates only the SECC; drop client_roots for 'iso2'")
    if checked == "iso20" and client_roots is None:
        raise TlsConfigError("ISO 15118-20 TLS requires the vehicle certificate: pass client_roots= "
                             "(the OEM root / V2G root PEM files that issue vehicle certificates)")
    ctx = _base(checked, ssl.PROTOCOL_TLS_SERVER)
    ctx.num_tickets = 0  # no resumption state handed out (OP_NO_TICKET alone still sends TLS 1.3 tickets)
    _load_chain(ctx, cert_chain, key)
    if client_roots is not None:
        _load_roots(ctx, client_roots, "client roots")
        ctx.verify_mode = ssl.CERT_REQUIRED if checked == "iso20" else ssl.CERT_OPTIONAL
    else:
        ctx.verify_mode = ssl.CERT_NONE
    _set_keylog(ctx, keylog)
    return ctx


def client_context(
    protocol: TlsProtocol,
    roots: StrPath | Sequence[StrPath],
    *,
    cert_chain: StrPath | None = None,
    key: StrPath | None = None,
    keylog: KeyLog = None,
) -> ssl.SSLContext:
    """The EVCC's context: verifies the SECC chain against ``roots`` (the V2G roots the car trusts).

    Host names are not checked: SECC certificates name the charger (CN = SECC id), not a DNS name.
    iso2: TLS 1.2 with ``ISO2_CIPHERS``, no client certificate. iso20: TLS 1.3 and ``cert_chain`` (vehicle
    leaf + OEM Sub-CAs) with ``key`` are required for mutual authentication.
    """
    checked = _check_protocol(protocol)
    has_identity = cert_chain is not None or key is not None
    if checked == "iso2" and has_identity:
        raise TlsConfigError("ISO 15118-2 TLS sends no client certificate; drop cert_chain/key for 'iso2'")
    if checked == "iso20" and (cert_chain is None or key is None):
        raise TlsConfigError("ISO 15118-20 TLS uses mutual authentication: pass both cert_chain= "
                             "(vehicle certificate + OEM Sub-CAs) and key= (its private key)")
    ctx = _base(checked, ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # SECC certificates carry no host name; the chain is still verified
    ctx.verify_mode = ssl.CERT_REQUIRED
    _load_roots(ctx, roots, "roots")
    if cert_chain is not None and key is not None:
        _load_chain(ctx, cert_chain, key)
    _set_keylog(ctx, keylog)
    return ctx


def _common_name(der: bytes | None) -> str | None:
    """CN of a DER certificate; parsed with cryptography so it works even when the peer was not verified."""
    if not der:
        return None
    names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None
    value = names[0].value
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def describe(conn: ssl.SSLObject | ssl.SSLSocket) -> TlsSummary:
    """Version, cipher and peer CN of an established connection, for logs and traces."""
    cipher = conn.cipher()
    return TlsSummary(
        version=conn.version(),
        cipher=cipher[0] if cipher else None,
        bits=cipher[2] if cipher else None,
        peer_cn=_common_name(conn.getpeercert(binary_form=True)),
    )


def by_version(tls12: ssl.SSLContext, tls13: ssl.SSLContext) -> Callable[[Any], ssl.SSLContext]:
    """A context selector for ``v2gkit.net.v2g.serve``: a station speaking ISO 15118-2 and -20 presents its
    ISO 15118-2 (secp256r1) chain to clients that offer at most TLS 1.2, and its -20 chain over TLS 1.3.
    One context cannot do this: OpenSSL holds one ECDSA certificate per context."""

    def select(hello: Any) -> ssl.SSLContext:
        return tls13 if hello.offers_tls13 else tls12

    return select
