"""TLS profiles of ISO 15118-2/-20 over real loopback sockets, and the throwaway test PKI behind them.

The server side upgrades the accepted TCP stream with ``StreamWriter.start_tls`` rather than
``start_server(ssl=...)``: asyncio swallows server-side handshake errors (they are OSErrors, only logged at
debug level), and these tests need to see them. One test checks the ``ssl=`` path too.

asyncio aborts the transport when a handshake fails, so the *other* side usually sees a reset or EOF
instead of an alert; the assertions on the exact OpenSSL message are made on the side that failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import ssl
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store

from v2gkit.net.tls import (
    ISO2_CIPHERS,
    ISO20_EXPECTED_SUITE,
    STATIC_ECDH_AVAILABLE,
    TlsConfigError,
    TlsSummary,
    client_context,
    describe,
    server_context,
)
from v2gkit.pki.quick import (
    MANIFEST,
    PkiError,
    TestPki,
    issue_leaf,
    issue_sub_ca,
    make_root_ca,
    make_test_pki,
)

HOST = "127.0.0.1"
PING = b"SupportedAppProtocolReq?"
PONG = b"SupportedAppProtocolRes!"
TIMEOUT = 10.0
E = TypeVar("E", bound=x509.ExtensionType)


@pytest.fixture(scope="module")
def pki2(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki2"), "iso2")


@pytest.fixture(scope="module")
def pki20(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki20"), "iso20", secc_id="SECC-DEMO-20",
                         vehicle_id="V2GKITDEMO0000020")


@dataclass
class Outcome:
    """Both ends of one connection attempt: what each saw, received or raised."""

    server: TlsSummary | None = None
    client: TlsSummary | None = None
    server_got: bytes = b""
    client_got: bytes = b""
    server_error: BaseException | None = None
    client_error: BaseException | None = None


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _session(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Outcome:
    """One client connection to a one-shot server; the client sends PING, the server answers PONG."""
    out = Outcome()
    served = asyncio.get_running_loop().create_future()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await writer.start_tls(server_ctx)
            out.server = describe(writer.get_extra_info("ssl_object"))
            out.server_got = await reader.readexactly(len(PING))
            writer.write(PONG)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError) as e:
            out.server_error = e
        finally:
            await _close(writer)
            served.set_result(None)

    server = await asyncio.start_server(handle, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection(HOST, port, ssl=client_ctx, server_hostname="secc")
        try:
            out.client = describe(writer.get_extra_info("ssl_object"))
            writer.write(PING)
            await writer.drain()
            out.client_got = await reader.readexactly(len(PONG))
        finally:
            await _close(writer)
    except (OSError, asyncio.IncompleteReadError) as e:
        out.client_error = e
    await served
    server.close()
    return out


def run(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> Outcome:
    async def bounded() -> Outcome:
        return await asyncio.wait_for(_session(server_ctx, client_ctx), TIMEOUT)
    return asyncio.run(bounded())


def iso2_server(pki: TestPki, keylog: Path | None = None) -> ssl.SSLContext:
    return server_context("iso2", pki.secc_chain, pki.secc_key, keylog=keylog)


def iso20_server(pki: TestPki, keylog: Path | None = None) -> ssl.SSLContext:
    return server_context("iso20", pki.secc_chain, pki.secc_key, client_roots=pki.oem_root, keylog=keylog)


def iso20_client(pki: TestPki) -> ssl.SSLContext:
    return client_context("iso20", pki.v2g_root, cert_chain=pki.vehicle_chain, key=pki.vehicle_key)


def assert_verify_failed(error: BaseException | None, message: str) -> None:
    assert isinstance(error, ssl.SSLCertVerificationError), repr(error)
    assert error.verify_message == message


def assert_ssl_reason(error: BaseException | None, reason: str) -> None:
    assert isinstance(error, ssl.SSLError), repr(error)
    assert error.reason == reason


def assert_dropped(error: BaseException | None) -> None:
    """The side that did not fail just loses the connection (asyncio aborts instead of sending an alert)."""
    assert isinstance(error, (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)), repr(error)


# --- ciphers and constants ---------------------------------------------------------------------------

def test_iso2_ciphers_probe_this_openssl() -> None:
    assert ISO2_CIPHERS[0] == "ECDHE-ECDSA-AES128-SHA256"
    # OpenSSL >= 1.1.0 dropped the static ECDH suites; the constant must say what this build has
    assert ("ECDH-ECDSA-AES128-SHA256" in ISO2_CIPHERS) == STATIC_ECDH_AVAILABLE
    if ssl.OPENSSL_VERSION_INFO >= (1, 1, 0):
        assert not STATIC_ECDH_AVAILABLE


# --- successful handshakes ---------------------------------------------------------------------------

def test_iso2_handshake(pki2: TestPki) -> None:
    out = run(iso2_server(pki2), client_context("iso2", pki2.v2g_root))
    assert out.server_error is None and out.client_error is None
    assert out.client == {"version": "TLSv1.2", "cipher": "ECDHE-ECDSA-AES128-SHA256", "bits": 128,
                          "peer_cn": "SECC-DEMO-1"}
    assert out.server is not None
    assert out.server["version"] == "TLSv1.2" and out.server["cipher"] == "ECDHE-ECDSA-AES128-SHA256"
    assert out.server["peer_cn"] is None  # ISO 15118-2: the EVCC sends no certificate
    assert out.server_got == PING and out.client_got == PONG


def test_iso20_mutual_handshake(pki20: TestPki) -> None:
    out = run(iso20_server(pki20), iso20_client(pki20))
    assert out.server_error is None and out.client_error is None
    assert out.client == {"version": "TLSv1.3", "cipher": ISO20_EXPECTED_SUITE, "bits": 256,
                          "peer_cn": "SECC-DEMO-20"}
    assert out.server == {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384", "bits": 256,
                          "peer_cn": "V2GKITDEMO0000020"}
    assert out.server_got == PING and out.client_got == PONG


def test_iso20_server_trusting_several_roots(pki2: TestPki, pki20: TestPki) -> None:
    # a list of root files: the V2G root of another PKI first, the right OEM root second
    server = server_context("iso20", pki20.secc_chain, pki20.secc_key,
                            client_roots=[pki2.v2g_root, pki20.v2g_root, pki20.oem_root])
    client = client_context("iso20", [pki2.v2g_root, pki20.v2g_root], cert_chain=pki20.vehicle_chain,
                            key=pki20.vehicle_key)
    out = run(server, client)
    assert out.server is not None and out.server["peer_cn"] == "V2GKITDEMO0000020"
    assert out.client_got == PONG


def test_start_server_with_ssl_argument(pki20: TestPki) -> None:
    """The way the SECC runs it: asyncio.start_server(ssl=server_context(...))."""
    async def main() -> tuple[TlsSummary, TlsSummary, bytes]:
        seen: asyncio.Future[TlsSummary] = asyncio.get_running_loop().create_future()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.set_result(describe(writer.get_extra_info("ssl_object")))
            writer.write((await reader.readexactly(len(PING))).upper())
            await writer.drain()
            await _close(writer)

        server = await asyncio.start_server(handle, HOST, 0, ssl=iso20_server(pki20))
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection(HOST, port, ssl=iso20_client(pki20),
                                                       server_hostname="secc")
        writer.write(PING)
        echoed = await reader.readexactly(len(PING))
        client = describe(writer.get_extra_info("ssl_object"))
        await _close(writer)
        server.close()
        return await seen, client, echoed

    server_info, client_info, echoed = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert echoed == PING.upper()
    assert server_info["peer_cn"] == "V2GKITDEMO0000020" and client_info["peer_cn"] == "SECC-DEMO-20"


# --- the EVCC rejects a bad SECC chain -----------------------------------------------------------------

def test_secc_chain_under_unknown_root(pki2: TestPki, tmp_path: Path) -> None:
    rogue = make_root_ca("Rogue V2G Root", "iso2")
    sub1 = issue_sub_ca(rogue, "Rogue Sub-CA 1", path_length=1)
    sub2 = issue_sub_ca(sub1, "Rogue Sub-CA 2", path_length=0)
    leaf = issue_leaf(sub2, tmp_path, "rogue_secc", common_name="SECC-ROGUE")
    out = run(server_context("iso2", leaf.chain_path, leaf.key_path), client_context("iso2", pki2.v2g_root))
    assert_verify_failed(out.client_error, "unable to get local issuer certificate")
    assert_dropped(out.server_error)


def test_expired_secc_certificate(pki2: TestPki, tmp_path: Path) -> None:
    leaf = issue_leaf(pki2.ca("cpo_sub2"), tmp_path, "expired", common_name="SECC-EXPIRED", expired=True)
    out = run(server_context("iso2", leaf.chain_path, leaf.key_path), client_context("iso2", pki2.v2g_root))
    assert_verify_failed(out.client_error, "certificate has expired")
    assert_dropped(out.server_error)


def test_not_yet_valid_secc_certificate(pki2: TestPki, tmp_path: Path) -> None:
    leaf = issue_leaf(pki2.ca("cpo_sub2"), tmp_path, "future", common_name="SECC-FUTURE", not_yet_valid=True)
    out = run(server_context("iso2", leaf.chain_path, leaf.key_path), client_context("iso2", pki2.v2g_root))
    assert_verify_failed(out.client_error, "certificate is not yet valid")


def test_sub_ca_without_key_cert_sign(pki2: TestPki, tmp_path: Path) -> None:
    bad_sub2 = issue_sub_ca(pki2.ca("cpo_sub1"), "CPO Sub-CA 2 without keyCertSign", path_length=0,
                            key_cert_sign=False)
    leaf = issue_leaf(bad_sub2, tmp_path, "under_bad_sub", common_name="SECC-BADSUB")
    out = run(server_context("iso2", leaf.chain_path, leaf.key_path), client_context("iso2", pki2.v2g_root))
    assert_verify_failed(out.client_error, "invalid CA certificate")
    assert_dropped(out.server_error)


def test_secc_leaf_without_digital_signature(pki2: TestPki, tmp_path: Path) -> None:
    """ECDHE-ECDSA needs a signing key: OpenSSL's server won't pick the suite for a keyAgreement-only cert."""
    leaf = issue_leaf(pki2.ca("cpo_sub2"), tmp_path, "no_ds", common_name="SECC-NO-DS",
                      key_usage=("key_agreement",))
    out = run(server_context("iso2", leaf.chain_path, leaf.key_path), client_context("iso2", pki2.v2g_root))
    assert_ssl_reason(out.server_error, "NO_SHARED_CIPHER")
    assert_dropped(out.client_error)


# --- the SECC rejects a bad vehicle (ISO 15118-20) -------------------------------------------------------

def test_iso20_client_without_certificate(pki20: TestPki) -> None:
    # client_context refuses to build this, so assemble a TLS 1.3 client by hand
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.check_hostname = False
    bare.minimum_version = ssl.TLSVersion.TLSv1_3
    bare.load_verify_locations(cafile=pki20.v2g_root)
    out = run(iso20_server(pki20), bare)
    assert_ssl_reason(out.server_error, "PEER_DID_NOT_RETURN_A_CERTIFICATE")
    assert out.server is None
    assert_dropped(out.client_error)  # TLS 1.3: the client's handshake is done before the server decides


def test_iso20_vehicle_under_unknown_root(pki20: TestPki, tmp_path: Path) -> None:
    rogue = make_root_ca("Rogue OEM Root", "iso20", domain_component="OEM")
    leaf = issue_leaf(rogue, tmp_path, "rogue_vehicle", common_name="ROGUE0VIN00000000",
                      key_usage=("digital_signature",), domain_component="OEM")
    client = client_context("iso20", pki20.v2g_root, cert_chain=leaf.chain_path, key=leaf.key_path)
    out = run(iso20_server(pki20), client)
    assert_verify_failed(out.server_error, "unable to get local issuer certificate")
    assert_dropped(out.client_error)


def test_iso20_expired_vehicle_certificate(pki20: TestPki, tmp_path: Path) -> None:
    leaf = issue_leaf(pki20.ca("oem_sub2"), tmp_path, "old_vehicle", common_name="OLD00VIN000000000",
                      key_usage=("digital_signature",), domain_component="OEM", expired=True)
    client = client_context("iso20", pki20.v2g_root, cert_chain=leaf.chain_path, key=leaf.key_path)
    out = run(iso20_server(pki20), client)
    assert_verify_failed(out.server_error, "certificate has expired")


# --- version mismatch ---------------------------------------------------------------------------------

def test_iso2_client_against_tls13_only_server(pki20: TestPki) -> None:
    out = run(iso20_server(pki20), client_context("iso2", pki20.v2g_root))
    # the TLS 1.2-only ClientHello is refused by the TLS 1.3-only server before any certificate is sent
    assert_ssl_reason(out.server_error, "UNSUPPORTED_PROTOCOL")
    assert_dropped(out.client_error)
    assert out.client is None


def test_iso20_client_against_tls12_only_server(pki2: TestPki) -> None:
    client = client_context("iso20", pki2.v2g_root, cert_chain=pki2.vehicle_chain, key=pki2.vehicle_key)
    out = run(iso2_server(pki2), client)
    assert_ssl_reason(out.server_error, "UNSUPPORTED_PROTOCOL")
    assert_dropped(out.client_error)


# --- key log ------------------------------------------------------------------------------------------

def _labels(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {line.split(" ", 1)[0] for line in lines if line and not line.startswith("#")}


def test_keylog_tls12(pki2: TestPki, tmp_path: Path) -> None:
    keylog = tmp_path / "iso2.keys"
    out = run(iso2_server(pki2), client_context("iso2", pki2.v2g_root, keylog=keylog))
    assert out.client_got == PONG
    labels = _labels(keylog)
    assert "CLIENT_RANDOM" in labels
    line = next(s for s in keylog.read_text().splitlines() if s.startswith("CLIENT_RANDOM "))
    _, client_random, master_secret = line.split()
    assert len(client_random) == 64 and len(master_secret) == 96  # hex of 32-byte random, 48-byte secret


def test_keylog_tls13(pki20: TestPki, tmp_path: Path) -> None:
    keylog = tmp_path / "iso20.keys"
    out = run(iso20_server(pki20, keylog=keylog), iso20_client(pki20))
    assert out.client_got == PONG
    assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= _labels(keylog)


def test_keylog_from_environment(pki2: TestPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keylog = tmp_path / "env.keys"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    assert client_context("iso2", pki2.v2g_root).keylog_filename is None  # only on request
    ctx = client_context("iso2", pki2.v2g_root, keylog="env")
    assert ctx.keylog_filename == str(keylog)
    run(iso2_server(pki2), ctx)
    assert "CLIENT_RANDOM" in _labels(keylog)
    monkeypatch.delenv("SSLKEYLOGFILE")
    assert client_context("iso2", pki2.v2g_root, keylog="env").keylog_filename is None


def test_keylog_in_missing_folder(pki2: TestPki, tmp_path: Path) -> None:
    with pytest.raises(TlsConfigError, match=r"cannot open key log file .*nowhere"):
        client_context("iso2", pki2.v2g_root, keylog=tmp_path / "nowhere" / "keys")


# --- configuration errors -----------------------------------------------------------------------------

def test_din_has_no_tls(pki2: TestPki) -> None:
    with pytest.raises(TlsConfigError, match="DIN SPEC 70121 has no TLS"):
        server_context("din", pki2.secc_chain, pki2.secc_key)
    with pytest.raises(TlsConfigError, match="DIN SPEC 70121 has no TLS"):
        client_context("din", pki2.v2g_root)
    with pytest.raises(TlsConfigError, match="unknown protocol 'iso15118'"):
        client_context("iso15118", pki2.v2g_root)  # type: ignore[arg-type]


def test_iso20_needs_both_identities(pki20: TestPki) -> None:
    with pytest.raises(TlsConfigError, match="pass client_roots="):
        server_context("iso20", pki20.secc_chain, pki20.secc_key)
    with pytest.raises(TlsConfigError, match="mutual authentication"):
        client_context("iso20", pki20.v2g_root)
    with pytest.raises(TlsConfigError, match="mutual authentication"):
        client_context("iso20", pki20.v2g_root, cert_chain=pki20.vehicle_chain)


def test_iso2_has_no_client_certificate(pki2: TestPki) -> None:
    with pytest.raises(TlsConfigError, match="drop client_roots"):
        server_context("iso2", pki2.secc_chain, pki2.secc_key, client_roots=pki2.oem_root)
    with pytest.raises(TlsConfigError, match="drop cert_chain/key"):
        client_context("iso2", pki2.v2g_root, cert_chain=pki2.vehicle_chain, key=pki2.vehicle_key)


def test_missing_and_mismatched_files(pki2: TestPki, tmp_path: Path) -> None:
    missing = tmp_path / "no_such_chain.pem"
    with pytest.raises(TlsConfigError, match=f"certificate chain file not found: {re.escape(str(missing))}"):
        server_context("iso2", missing, pki2.secc_key)
    with pytest.raises(TlsConfigError, match="roots file not found"):
        client_context("iso2", [pki2.v2g_root, tmp_path / "gone.pem"])
    with pytest.raises(TlsConfigError, match="key must belong to that leaf"):
        server_context("iso2", pki2.secc_chain, pki2.vehicle_key)
    key = serialization.load_pem_private_key(pki2.secc_key.read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(TlsConfigError, match=r"encrypted\.key is encrypted"):
        server_context("iso2", pki2.secc_chain, encrypted)
    not_pem = tmp_path / "not_pem.pem"
    not_pem.write_text("hello\n")
    with pytest.raises(TlsConfigError, match="must hold PEM certificates"):
        client_context("iso2", not_pem)


def test_contexts_are_locked_down(pki2: TestPki, pki20: TestPki) -> None:
    s2, c2 = iso2_server(pki2), client_context("iso2", pki2.v2g_root)
    s20, c20 = iso20_server(pki20), iso20_client(pki20)
    for ctx in (s2, c2):
        assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_2
        assert {c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"} == set(ISO2_CIPHERS)
    for ctx in (s20, c20):
        assert ctx.minimum_version == ctx.maximum_version == ssl.TLSVersion.TLSv1_3
    for ctx in (s2, c2, s20, c20):
        assert ctx.options & ssl.OP_NO_COMPRESSION and ctx.options & ssl.OP_NO_RENEGOTIATION
        assert ctx.options & ssl.OP_NO_TICKET
    assert s2.verify_mode == ssl.CERT_NONE and s20.verify_mode == ssl.CERT_REQUIRED
    assert s2.num_tickets == 0 and s20.num_tickets == 0
    for ctx in (c2, c20):
        assert ctx.verify_mode == ssl.CERT_REQUIRED and not ctx.check_hostname


# --- the test PKI -------------------------------------------------------------------------------------

def _certs(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def _verify(root: Path, chain: Path) -> list[x509.Certificate]:
    """Path validation with cryptography's RFC 5280 verifier (webpki CA rules; no SAN needed on the leaf)."""
    leaf, *intermediates = _certs(chain)
    verifier = (PolicyBuilder().store(Store(_certs(root)))
                .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                    ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier())
    return verifier.verify(leaf, intermediates).chain


@pytest.mark.parametrize("fixture", ["pki2", "pki20"])
def test_pki_files_and_chains(fixture: str, request: pytest.FixtureRequest) -> None:
    pki: TestPki = request.getfixturevalue(fixture)
    curve, digest = (ec.SECP256R1, hashes.SHA256) if pki.protocol == "iso2" else (ec.SECP521R1, hashes.SHA512)
    for path in pki.files():
        assert path.is_file(), path
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == (0o600 if path.suffix == ".key" else 0o644), (path, oct(mode))
    assert json.loads((pki.directory / MANIFEST).read_text())["protocol"] == pki.protocol

    secc_path = _verify(pki.v2g_root, pki.secc_chain)
    assert [c.subject for c in secc_path] == [_certs(p)[0].subject for p in
                                               (pki.secc_cert, pki.cpo_sub2, pki.cpo_sub1, pki.v2g_root)]
    vehicle_path = _verify(pki.oem_root, pki.vehicle_chain)
    assert len(vehicle_path) == 4
    for cert in (*secc_path, *vehicle_path):
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, curve)
        assert isinstance(cert.signature_hash_algorithm, digest)


def _ext(cert: x509.Certificate, kind: type[E]) -> x509.Extension[E]:
    return cert.extensions.get_extension_for_class(kind)


def test_pki_extensions(pki2: TestPki) -> None:
    (secc,) = _certs(pki2.secc_cert)
    assert secc.subject.rfc4514_string() == "DC=CPO,O=v2gkit test PKI,CN=SECC-DEMO-1"
    ku = _ext(secc, x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.key_agreement
    assert not ku.value.key_cert_sign and not ku.value.key_encipherment
    bc = _ext(secc, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is False
    (vehicle,) = _certs(pki2.vehicle_cert)
    assert vehicle.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "V2GKITDEMO0000001"
    assert _ext(vehicle, x509.KeyUsage).value.digital_signature

    expected_path_len = {"v2g_root": 2, "cpo_sub1": 1, "cpo_sub2": 0,
                         "oem_root": 2, "oem_sub1": 1, "oem_sub2": 0}
    for name, path_len in expected_path_len.items():
        (ca,) = _certs(pki2.directory / f"{name}.pem")
        bc = _ext(ca, x509.BasicConstraints)
        assert bc.critical and bc.value.ca and bc.value.path_length == path_len, name
        ku = _ext(ca, x509.KeyUsage)
        assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature
        assert _ext(ca, x509.SubjectKeyIdentifier)
    # every AKI names the issuer's SKI
    for child, parent in ((pki2.secc_cert, pki2.cpo_sub2), (pki2.cpo_sub2, pki2.cpo_sub1),
                          (pki2.cpo_sub1, pki2.v2g_root), (pki2.vehicle_cert, pki2.oem_sub2)):
        aki = _ext(_certs(child)[0], x509.AuthorityKeyIdentifier).value
        ski = _ext(_certs(parent)[0], x509.SubjectKeyIdentifier).value
        assert isinstance(aki, x509.AuthorityKeyIdentifier) and isinstance(ski, x509.SubjectKeyIdentifier)
        assert aki.key_identifier == ski.digest


def test_pki_reuse_and_regeneration(tmp_path: Path) -> None:
    def serials(pki: TestPki) -> list[int]:
        return [_certs(p)[0].serial_number for p in pki.files() if p.suffix == ".pem"]

    # TestPki holds paths: snapshot the serials before the files may be rewritten
    first = serials(make_test_pki(tmp_path, "iso2"))
    assert serials(make_test_pki(tmp_path, "iso2")) == first  # reused as is
    assert make_test_pki(tmp_path, "iso2").ca("cpo_sub2").chain[0].serial_number == first[2]

    other_id = serials(make_test_pki(tmp_path, "iso2", secc_id="SECC-OTHER"))
    assert set(other_id).isdisjoint(first)  # the manifest keys the ids

    # a leaf expired since the last run -> regenerate
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    aged = serials(make_test_pki(tmp_path, "iso2", secc_id="SECC-OTHER", now=later))
    assert set(aged).isdisjoint(other_id)

    iso20 = make_test_pki(tmp_path, "iso20")
    iso20_serials = serials(iso20)
    assert set(iso20_serials).isdisjoint(aged)
    root_key = _certs(iso20.v2g_root)[0].public_key()
    assert isinstance(root_key, ec.EllipticCurvePublicKey) and root_key.curve.name == "secp521r1"

    (tmp_path / MANIFEST).write_text("{not json")
    assert set(serials(make_test_pki(tmp_path, "iso20"))).isdisjoint(iso20_serials)
    (tmp_path / "secc.key").unlink()
    rebuilt = make_test_pki(tmp_path, "iso20")
    assert rebuilt.secc_key.is_file()


def test_pki_option_errors(pki2: TestPki, tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="unknown protocol 'din'"):
        make_test_pki(tmp_path, "din")  # type: ignore[arg-type]
    with pytest.raises(PkiError, match="unknown key usage sign"):
        issue_leaf(pki2.ca("cpo_sub2"), tmp_path, "x", common_name="X", key_usage=("sign",))
    with pytest.raises(PkiError, match="both expired and not yet valid"):
        issue_leaf(pki2.ca("cpo_sub2"), tmp_path, "x", common_name="X", expired=True, not_yet_valid=True)
    with pytest.raises(PkiError, match="no time zone"):
        make_root_ca("R", now=dt.datetime(2030, 1, 1))
    with pytest.raises(PkiError, match="unknown CA 'secc'"):
        pki2.ca("secc")  # type: ignore[arg-type]
    broken = TestPki.at(tmp_path / "empty", "iso2")
    with pytest.raises(PkiError, match=r"cpo_sub2\.pem is missing; call make_test_pki"):
        broken.ca("cpo_sub2")
