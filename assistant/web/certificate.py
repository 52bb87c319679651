"""The page's TLS certificate, issued by a small certificate authority of the assistant's own.

Phones need HTTPS for the microphone (getUserMedia wants a secure context), and a trusted certificate
for the service worker that makes the page an installable app: Chromium refuses a worker script
behind a certificate that was merely clicked through. So the first run makes a local CA (`ca.pem`,
its key `ca-key.pem` readable only by its owner, in the web folder of the data folder) and the CA
issues the server's certificate (`cert.pem`, `key.pem`). A phone installs the CA's root once, from the
pairing page's `/ca.crt`, checking the SHA-256 fingerprint that `assistant pair` prints.

The root can vouch only for this machine: its name constraints permit this host's names, `.local`
name and localhost, and loopback and private addresses; a leaked CA key cannot impersonate any other
site to a phone that trusts it. The server's certificate names this host, its `.local` name, loopback
and every LAN address it has now (within those constraints), lives at most 397 days, and is made
again when an address it does not name appears, when it is within 30 days of its end, or when the
current CA did not issue it (an older self-signed one is replaced so).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from assistant.core.store import atomic_write
from assistant.devices.announce import lan_ipv4

log = logging.getLogger(__name__)

CA_VALID_DAYS = 3650
VALID_DAYS = 397
"""The longest life browsers accept for a server certificate."""
RENEW_DAYS = 30
PERMITTED_NETWORKS = [
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "::1/128", "fc00::/7")
]
"""Addresses the CA may vouch for: loopback, private LANs and carrier-grade NAT (VPNs such as Tailscale)."""


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    ca: Path
    """The CA's root certificate (PEM), which a phone installs once."""
    fingerprint: str
    """SHA-256 of the server's certificate, as "AB:CD:…"."""
    ca_fingerprint: str
    """SHA-256 of the root, as a phone's certificate installer shows it."""

    def ca_der(self) -> bytes:
        """The root in DER, the form phones install from a `.crt` link."""
        return x509.load_pem_x509_certificate(self.ca.read_bytes()).public_bytes(serialization.Encoding.DER)


def lan_addresses() -> list[str]:
    """The addresses phones reach this machine at: its IPv4 addresses, loopback and link-local aside."""
    return sorted(a for a in lan_ipv4() if not ipaddress.ip_address(a).is_link_local)


def host_name() -> str:
    return socket.gethostname().lower().rstrip(".")


def host_names() -> list[str]:
    """This machine's DNS names that a phone may use: its host name, its `.local` name, localhost."""
    host = host_name()
    return sorted({host, f"{host}.local", "localhost"})


def served_names(addresses: list[str]) -> list[str]:
    """Every name and address the page is served under (the certificate's and the Host check's)."""
    return [*host_names(), *sorted({"127.0.0.1", *addresses})]


def ensure_certificate(folder: Path, addresses: list[str] | None = None) -> Certificate:
    """The CA and its certificate for the server in `folder`, each made when missing, damaged or old;
    the server's also when it does not cover `addresses` or another CA issued it."""
    addresses = lan_addresses() if addresses is None else addresses
    folder.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _ensure_ca(folder)
    leaf = _current_leaf(folder, ca_cert, addresses)
    if leaf is None:
        leaf = _issue_leaf(folder, ca_cert, ca_key, addresses)
    return Certificate(
        folder / "cert.pem", folder / "key.pem", folder / "ca.pem", _fingerprint(leaf), _fingerprint(ca_cert)
    )


# --- the CA ---------------------------------------------------------------------------------------


def _ensure_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    loaded = _load_pair(folder / "ca.pem", folder / "ca-key.pem")
    if loaded is not None and _fresh(loaded[0]):
        return loaded
    log.info("making the assistant's certificate authority in %s: phones must install its root again", folder)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Home assistant"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{host_name()} home assistant local CA"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        _builder(subject, subject, key.public_key(), CA_VALID_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(
            x509.NameConstraints(permitted_subtrees=_permitted_subtrees(), excluded_subtrees=None), critical=True
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(folder / "ca.pem", folder / "ca-key.pem", cert, key)
    return cert, key


def _permitted_subtrees() -> list[x509.GeneralName]:
    dns: list[x509.GeneralName] = [x509.DNSName(n) for n in host_names()]
    return dns + [x509.IPAddress(n) for n in PERMITTED_NETWORKS]


def _permitted(ca: x509.Certificate, name: str) -> bool:
    """Whether the CA's name constraints let it vouch for `name` (a DNS name or an address)."""
    try:
        subtrees = ca.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees or []
    except x509.ExtensionNotFound:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        allowed = [str(g.value) for g in subtrees if isinstance(g, x509.DNSName)]
        return any(name == a or name.endswith("." + a) for a in allowed)
    networks = [
        g.value
        for g in subtrees
        if isinstance(g, x509.IPAddress) and isinstance(g.value, (ipaddress.IPv4Network, ipaddress.IPv6Network))
    ]  # cryptography allows only networks in name constraints: this tells the type checker so
    return any(address.version == n.version and address in n for n in networks)


# --- the server's certificate -----------------------------------------------------------------------


def _current_leaf(folder: Path, ca: x509.Certificate, addresses: list[str]) -> x509.Certificate | None:
    """The server's certificate when it can stay: issued by `ca`, covering `addresses`, not old."""
    loaded = _load_pair(folder / "cert.pem", folder / "key.pem")
    if loaded is None:
        return None
    cert = loaded[0]
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        log.info("replacing the page's certificate: the assistant's CA did not issue it")
        return None
    wanted = {a for a in addresses if _permitted(ca, a)}
    return cert if _covers(cert, wanted) and _fresh(cert) else None


def _issue_leaf(
    folder: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, addresses: list[str]
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [n for n in served_names(addresses) if _permitted(ca, n)]
    left_out = sorted(set(served_names(addresses)) - set(names))
    if left_out:
        log.warning(
            "the page's certificate leaves out %s: the assistant's CA may not vouch for them", ", ".join(left_out)
        )
    san = x509.SubjectAlternativeName([_general_name(n) for n in names])
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host_name()} home assistant")])
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder(subject, ca.subject, key.public_key(), VALID_DAYS)
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder / "cert.pem", folder / "key.pem", cert, key)
    return cert


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


# --- shared -----------------------------------------------------------------------------------------


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """A certificate and its key from their files; None when either is missing, damaged or they do not match."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    return cert, key


def _write(cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    atomic_write(key_path, pem_key.decode())  # owner-only, as every atomic_write
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode())


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - dt.timedelta(days=RENEW_DAYS) > _now()


def _covers(cert: x509.Certificate, addresses: set[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    named = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return addresses <= named


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
