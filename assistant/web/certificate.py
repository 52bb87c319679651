"""The page's self-signed TLS certificate, made at first run.

Phones need HTTPS for the microphone (getUserMedia wants a secure context). The certificate names
this host, its `.local` name, loopback and every LAN address it has now; when an address it does not
name appears, or it is within 30 days of its end, a new one is made. The key file is readable only
by its owner. Pairing shows the certificate's SHA-256 fingerprint so a person can check it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from assistant.devices.announce import lan_ipv4
from assistant.store import atomic_write

VALID_DAYS = 825
RENEW_DAYS = 30


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path
    fingerprint: str
    """SHA-256 of the certificate, as "AB:CD:…"."""


def lan_addresses() -> list[str]:
    """The addresses phones reach this machine at: its IPv4 addresses, loopback and link-local aside."""
    return sorted(a for a in lan_ipv4() if not ipaddress.ip_address(a).is_link_local)


def ensure_certificate(folder: Path, addresses: list[str] | None = None) -> Certificate:
    """The certificate in `folder`, made or renewed when it does not cover `addresses` or is old."""
    addresses = lan_addresses() if addresses is None else addresses
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.exists() and key_path.exists():
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if _covers(cert, addresses) and cert.not_valid_after_utc - dt.timedelta(days=RENEW_DAYS) > _now():
                return Certificate(cert_path, key_path, _fingerprint(cert))
        except ValueError:
            pass  # damaged: make a new one
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in sorted({host, f"{host}.local", "localhost"})]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ["127.0.0.1", *addresses]]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host} home assistant")])
    now = _now()
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    atomic_write(key_path, pem_key.decode())  # owner-only, as every atomic_write
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode())
    return Certificate(cert_path, key_path, _fingerprint(cert))


def _covers(cert: x509.Certificate, addresses: list[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    named = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(addresses) <= named


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
