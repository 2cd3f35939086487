"""A throwaway ISO 15118 test PKI, written as PEM files, for tests and demos.

Two chains, as ISO 15118 lays them out:

- V2G root CA -> CPO Sub-CA 1 -> CPO Sub-CA 2 -> SECC certificate (the charger's TLS server certificate);
- OEM root CA -> OEM Sub-CA 1 -> OEM Sub-CA 2 -> vehicle certificate (the EVCC's TLS client certificate
  for ISO 15118-20 mutual authentication; ISO 15118-2 calls it the OEM provisioning certificate).

ISO 15118-2 uses secp256r1 with ECDSA-SHA256, ISO 15118-20 secp521r1 with ECDSA-SHA512. Private keys are
unencrypted PKCS#8 files (mode 0600): never use this module for real keys. ``issue_leaf``, ``issue_sub_ca``
and ``make_root_ca`` also make deliberately broken certificates (expired, wrong key usage, unknown root) so
tests can check that peers reject them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PkiProtocol = Literal["iso2", "iso20"]
CaName = Literal["v2g_root", "cpo_sub1", "cpo_sub2", "oem_root", "oem_sub1", "oem_sub2"]
StrPath = str | os.PathLike[str]

#: the field names of ``x509.KeyUsage``, accepted by ``issue_leaf(key_usage=...)``
KEY_USAGE_NAMES: tuple[str, ...] = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
    "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
)
#: ISO 15118-2 SECC certificate: signs the ECDHE parameters and does ECDH
SECC_KEY_USAGE: tuple[str, ...] = ("digital_signature", "key_agreement")
#: vehicle / OEM provisioning certificate: signs (TLS 1.3 CertificateVerify, signed messages)
VEHICLE_KEY_USAGE: tuple[str, ...] = ("digital_signature",)

MANIFEST = "manifest.json"
_MANIFEST_FORMAT = 1
_CA_PARENTS: dict[str, str | None] = {
    "v2g_root": None, "cpo_sub1": "v2g_root", "cpo_sub2": "cpo_sub1",
    "oem_root": None, "oem_sub1": "oem_root", "oem_sub2": "oem_sub1",
}
_LEAVES = ("secc", "vehicle")
_ORGANIZATION = "v2gkit test PKI"
_CLOCK_SKEW = dt.timedelta(hours=1)  # backdate not-before so peers with a slightly slow clock accept


#: where ``v2gkit secc``/``evcc``, the test system and the SUT launchers keep their throwaway test PKI (both
#: sides of a test read the same one, so each trusts the other)
DEFAULT_PKI = Path.home() / ".cache" / "v2gkit" / "pki"


class PkiError(ValueError):
    """A test PKI cannot be built or loaded as asked (bad option, missing or unreadable file)."""


def _check_protocol(protocol: str) -> PkiProtocol:
    """Reject anything but the two ISO protocols early, with the fix in the message."""
    if protocol == "iso2":
        return "iso2"
    if protocol == "iso20":
        return "iso20"
    raise PkiError(f"unknown protocol {protocol!r}: use 'iso2' (secp256r1, ECDSA-SHA256) or 'iso20' "
                   "(secp521r1, ECDSA-SHA512); DIN SPEC 70121 uses no certificates")


def _curve(protocol: PkiProtocol) -> ec.EllipticCurve:
    """The key curve each ISO 15118 part mandates."""
    return ec.SECP256R1() if protocol == "iso2" else ec.SECP521R1()


def _hash(protocol: PkiProtocol) -> hashes.SHA256 | hashes.SHA512:
    """The signature hash paired with the curve (ECDSA-SHA256 / ECDSA-SHA512)."""
    return hashes.SHA256() if protocol == "iso2" else hashes.SHA512()


def _now(now: dt.datetime | None) -> dt.datetime:
    """An aware UTC time: cryptography compares validity in UTC."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise PkiError(f"now={now!r} has no time zone; pass an aware datetime such as "
                       "datetime.now(UTC)")
    return now.astimezone(dt.UTC)


def _name(common_name: str, domain_component: str | None) -> x509.Name:
    """Subject/issuer name in the ISO 15118 style: CN, O and an optional DC naming the domain."""
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION)]
    if domain_component:
        attributes.append(x509.NameAttribute(NameOID.DOMAIN_COMPONENT, domain_component))
    return x509.Name(attributes)


def _key_usage(names: Iterable[str]) -> x509.KeyUsage:
    """A KeyUsage from field names, so tests can drop single bits by name."""
    wanted = set(names)
    unknown = sorted(wanted - set(KEY_USAGE_NAMES))
    if unknown:
        raise PkiError(f"unknown key usage {', '.join(unknown)}; use names from: {' '.join(KEY_USAGE_NAMES)}")
    try:
        return x509.KeyUsage(**{name: name in wanted for name in KEY_USAGE_NAMES})
    except ValueError as e:  # encipher_only/decipher_only without key_agreement
        raise PkiError(f"invalid key usage {sorted(wanted)}: {e}") from e


def _ski_of(cert: x509.Certificate) -> x509.SubjectKeyIdentifier:
    """The issuer's own SKI when it has one, so AKI and SKI match byte for byte."""
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key())


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate with its private key, so tests can issue further (good or broken) certificates.

    ``chain`` is what a peer presents after a leaf issued by this CA: this CA itself unless it is a root,
    then the Sub-CAs above it, nearest first.
    """

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    protocol: PkiProtocol
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def is_root(self) -> bool:
        """Self-issued: trust anchors are not sent in a chain."""
        return self.cert.issuer == self.cert.subject

    def write(self, directory: StrPath, name: str) -> Path:
        """Write ``<name>.pem`` and ``<name>.key`` (0600); returns the certificate path (e.g. for roots)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        _write_key(folder / f"{name}.key", self.key)
        return _write_certs(folder / f"{name}.pem", [self.cert])


@dataclass(frozen=True)
class IssuedCertificate:
    """An end-entity certificate and the three files a TLS endpoint needs."""

    cert: x509.Certificate
    cert_path: Path
    key_path: Path
    chain_path: Path  # leaf + Sub-CAs, what a TLS endpoint presents


def _sign(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: CertificateAuthority | None,
    self_key: ec.EllipticCurvePrivateKey,
    protocol: PkiProtocol,
    validity: tuple[dt.datetime, dt.datetime],
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """Build and sign one certificate; ``issuer`` None means self-signed with ``self_key``."""
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(subject if issuer is None else issuer.cert.subject)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(validity[0])
               .not_valid_after(validity[1]))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    if issuer is not None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(_ski_of(issuer.cert))
        builder = builder.add_extension(aki, critical=False)
    return builder.sign(self_key if issuer is None else issuer.key, _hash(protocol))


def make_root_ca(
    common_name: str,
    protocol: PkiProtocol = "iso2",
    *,
    domain_component: str | None = "V2G",
    path_length: int | None = 2,
    now: dt.datetime | None = None,
    days: int = 3650,
) -> CertificateAuthority:
    """A self-signed root: the V2G or OEM trust anchor, or an unknown root for negative tests."""
    protocol = _check_protocol(protocol)
    start = _now(now) - _CLOCK_SKEW
    key = ec.generate_private_key(_curve(protocol))
    cert = _sign(_name(common_name, domain_component), key.public_key(), None, key, protocol,
                 (start, start + dt.timedelta(days=days)), _ca_extensions(path_length, key_cert_sign=True))
    return CertificateAuthority(cert, key, protocol)


def _ca_extensions(path_length: int | None, *, key_cert_sign: bool) -> list[tuple[x509.ExtensionType, bool]]:
    """basicConstraints CA=true and keyUsage keyCertSign+cRLSign, both critical."""
    usage = ("key_cert_sign", "crl_sign") if key_cert_sign else ("crl_sign",)
    return [(x509.BasicConstraints(ca=True, path_length=path_length), True), (_key_usage(usage), True)]


def issue_sub_ca(
    issuer: CertificateAuthority,
    common_name: str,
    *,
    path_length: int | None,
    key_cert_sign: bool = True,
    domain_component: str | None = "V2G",
    now: dt.datetime | None = None,
    days: int = 1460,
) -> CertificateAuthority:
    """A Sub-CA under ``issuer``; ``key_cert_sign=False`` makes one peers must refuse as an issuer."""
    start = _now(now) - _CLOCK_SKEW
    key = ec.generate_private_key(_curve(issuer.protocol))
    cert = _sign(_name(common_name, domain_component), key.public_key(), issuer, key, issuer.protocol,
                 (start, start + dt.timedelta(days=days)),
                 _ca_extensions(path_length, key_cert_sign=key_cert_sign))
    above = () if issuer.is_root else issuer.chain
    return CertificateAuthority(cert, key, issuer.protocol, (cert, *above))


def issue_leaf(
    issuer: CertificateAuthority,
    directory: StrPath,
    name: str,
    *,
    common_name: str,
    key_usage: Iterable[str] = SECC_KEY_USAGE,
    domain_component: str | None = "CPO",
    expired: bool = False,
    not_yet_valid: bool = False,
    now: dt.datetime | None = None,
    days: int = 365,
) -> IssuedCertificate:
    """Issue an end-entity certificate and write ``<name>.pem``, ``<name>.key``, ``<name>_chain.pem``.

    ``key_usage`` lists ``x509.KeyUsage`` field names; an empty list leaves the extension out.
    ``expired`` / ``not_yet_valid`` shift the validity window to before / after ``now``.
    """
    if expired and not_yet_valid:
        raise PkiError("a certificate cannot be both expired and not yet valid; pass only one of them")
    moment = _now(now)
    if expired:
        validity = (moment - dt.timedelta(days=30), moment - dt.timedelta(days=1))
    elif not_yet_valid:
        validity = (moment + dt.timedelta(days=1), moment + dt.timedelta(days=1 + days))
    else:
        validity = (moment - _CLOCK_SKEW, moment + dt.timedelta(days=days))
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True)]
    usage = tuple(key_usage)
    if usage:
        extensions.append((_key_usage(usage), True))
    key = ec.generate_private_key(_curve(issuer.protocol))
    cert = _sign(_name(common_name, domain_component), key.public_key(), issuer, key, issuer.protocol,
                 validity, extensions)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return IssuedCertificate(
        cert=cert,
        cert_path=_write_certs(folder / f"{name}.pem", [cert]),
        key_path=_write_key(folder / f"{name}.key", key),
        chain_path=_write_certs(folder / f"{name}_chain.pem", [cert, *issuer.chain]),
    )


def _write_bytes(path: Path, data: bytes, mode: int) -> Path:
    """Create with ``mode`` from the start (no window where a key is world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # the file may have existed with wider permissions
    return path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    """Unencrypted PKCS#8 PEM, mode 0600: loadable by ssl.SSLContext.load_cert_chain without a password."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return _write_bytes(path, pem, 0o600)


def _write_certs(path: Path, certs: Iterable[x509.Certificate]) -> Path:
    """Concatenated PEM certificates, mode 0644."""
    return _write_bytes(path, b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs), 0o644)


def _read(path: Path) -> bytes:
    """File bytes, or a PkiError that names the file and the fix."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PkiError(f"{path} is missing; call make_test_pki() on {path.parent} to rebuild the test PKI") \
            from None


def _load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path))
    except ValueError as e:
        raise PkiError(f"{path} is not a PEM certificate ({e}); delete {path.parent / MANIFEST} "
                       "and call make_test_pki() again") from e


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError) as e:
        raise PkiError(f"{path} is not an unencrypted PEM private key ({e}); delete {path.parent / MANIFEST} "
                       "and call make_test_pki() again") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{path} holds a {type(key).__name__}, not an EC key; rebuild the test PKI")
    return key


@dataclass(frozen=True)
class TestPki:
    """Paths of a test PKI written by ``make_test_pki`` (``*_chain`` = leaf + Sub-CA 2 + Sub-CA 1)."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    directory: Path
    protocol: PkiProtocol
    v2g_root: Path
    cpo_sub1: Path
    cpo_sub2: Path
    secc_cert: Path
    secc_key: Path
    secc_chain: Path
    oem_root: Path
    oem_sub1: Path
    oem_sub2: Path
    vehicle_cert: Path
    vehicle_key: Path
    vehicle_chain: Path

    @classmethod
    def at(cls, directory: StrPath, protocol: PkiProtocol) -> TestPki:
        """The fixed file layout inside ``directory`` (files need not exist yet)."""
        d = Path(directory)
        return cls(
            directory=d, protocol=protocol,
            v2g_root=d / "v2g_root.pem", cpo_sub1=d / "cpo_sub1.pem", cpo_sub2=d / "cpo_sub2.pem",
            secc_cert=d / "secc.pem", secc_key=d / "secc.key", secc_chain=d / "secc_chain.pem",
            oem_root=d / "oem_root.pem", oem_sub1=d / "oem_sub1.pem", oem_sub2=d / "oem_sub2.pem",
            vehicle_cert=d / "vehicle.pem", vehicle_key=d / "vehicle.key",
            vehicle_chain=d / "vehicle_chain.pem",
        )

    def files(self) -> list[Path]:
        """Every file that makes the PKI complete (CA keys included, so ``ca()`` works after a reload)."""
        names = [*(f"{ca}.{ext}" for ca in _CA_PARENTS for ext in ("pem", "key")),
                 *(f"{leaf}{suffix}" for leaf in _LEAVES for suffix in (".pem", ".key", "_chain.pem"))]
        return [self.directory / n for n in names]

    def ca(self, name: CaName) -> CertificateAuthority:
        """Load a CA with its key, to issue extra (e.g. deliberately broken) certificates under it."""
        if name not in _CA_PARENTS:
            raise PkiError(f"unknown CA {name!r}; choose one of: {' '.join(_CA_PARENTS)}")
        cert = _load_cert(self.directory / f"{name}.pem")
        key = _load_key(self.directory / f"{name}.key")
        chain: list[x509.Certificate] = []
        current: str | None = name
        while current is not None and _CA_PARENTS[current] is not None:
            chain.append(cert if current == name else _load_cert(self.directory / f"{current}.pem"))
            current = _CA_PARENTS[current]
        return CertificateAuthority(cert, key, self.protocol, tuple(chain))


def _manifest(protocol: PkiProtocol, secc_id: str, vehicle_id: str) -> dict[str, object]:
    """What a stored PKI must match to be reused."""
    return {"format": _MANIFEST_FORMAT, "protocol": protocol, "secc_id": secc_id, "vehicle_id": vehicle_id}


def _reusable(pki: TestPki, wanted: dict[str, object], now: dt.datetime) -> bool:
    """True if the directory already holds this PKI, complete and valid at ``now``."""
    try:
        stored = json.loads((pki.directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if stored != wanted or not all(p.is_file() for p in pki.files()):
        return False
    try:
        certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in pki.files() if p.suffix == ".pem"]
    except (OSError, ValueError):
        return False
    return all(c.not_valid_before_utc <= now < c.not_valid_after_utc for c in certs)


def make_test_pki(
    directory: StrPath,
    protocol: PkiProtocol = "iso2",
    *,
    secc_id: str = "SECC-DEMO-1",
    vehicle_id: str = "V2GKITDEMO0000001",
    now: dt.datetime | None = None,
) -> TestPki:
    """Write both ISO 15118 chains into ``directory``, or reuse them if already there.

    Reuse: a ``manifest.json`` with the same protocol and ids, all files present and every certificate
    valid at ``now`` -> nothing is regenerated (demos call this on every start). Otherwise all files are
    rewritten and the manifest is written last, so an interrupted run is redone next time.
    """
    protocol = _check_protocol(protocol)
    moment = _now(now)
    pki = TestPki.at(directory, protocol)
    wanted = _manifest(protocol, secc_id, vehicle_id)
    if _reusable(pki, wanted, moment):
        return pki
    pki.directory.mkdir(parents=True, exist_ok=True)
    (pki.directory / MANIFEST).unlink(missing_ok=True)

    v2g_root = make_root_ca("V2G Root CA", protocol, domain_component="V2G", now=moment)
    cpo_sub1 = issue_sub_ca(v2g_root, "CPO Sub-CA 1", path_length=1, domain_component="V2G", now=moment)
    cpo_sub2 = issue_sub_ca(cpo_sub1, "CPO Sub-CA 2", path_length=0, domain_component="V2G",
                            now=moment, days=730)
    oem_root = make_root_ca("OEM Root CA", protocol, domain_component="OEM", now=moment)
    oem_sub1 = issue_sub_ca(oem_root, "OEM Sub-CA 1", path_length=1, domain_component="OEM", now=moment)
    oem_sub2 = issue_sub_ca(oem_sub1, "OEM Sub-CA 2", path_length=0, domain_component="OEM",
                            now=moment, days=730)
    cas = {"v2g_root": v2g_root, "cpo_sub1": cpo_sub1, "cpo_sub2": cpo_sub2,
           "oem_root": oem_root, "oem_sub1": oem_sub1, "oem_sub2": oem_sub2}
    for name, authority in cas.items():
        authority.write(pki.directory, name)
    issue_leaf(cpo_sub2, pki.directory, "secc", common_name=secc_id, key_usage=SECC_KEY_USAGE,
               domain_component="CPO", now=moment)
    issue_leaf(oem_sub2, pki.directory, "vehicle", common_name=vehicle_id, key_usage=VEHICLE_KEY_USAGE,
               domain_component="OEM", now=moment)
    (pki.directory / MANIFEST).write_text(json.dumps(wanted, indent=2) + "\n")
    return pki
