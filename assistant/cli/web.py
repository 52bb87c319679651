"""`assistant pair [--admin]` (a one-time code and a QR code for a phone) and `assistant phones
[list|revoke ID]`, each with `--json` and `--data-dir`.

While the assistant runs, these ask it through its loopback port (it owns the phone list: a token
revoked here stops working there at once); when it is stopped they change the data folder directly.
`pair` also prints where the phone installs the assistant's root certificate (`/ca.crt`) and its
SHA-256 fingerprint, to compare with what the phone shows. A phone paired with an `--admin` code may
unpair other phones from its page; pairing and revoking are written to the audit trail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assistant.core.addresses import is_loopback
from assistant.core.errors import CommandLineError, WebError
from assistant.core.store import DataDirLock, StoreError

TIMEOUT_S = 5.0


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Callable[[argparse.ArgumentParser], None]
) -> None:
    pair = sub.add_parser("pair", help="show a one-time code and QR code that pairs a phone with the companion page")
    pair.add_argument("--json", action="store_true", help="JSON instead of text and a QR code")
    pair.add_argument("--admin", action="store_true", help="the phone this code pairs may unpair other phones")
    pair.add_argument(
        "--person",
        metavar="NAME",
        help="an enrolled person (`assistant people list`): the phone asks as them (their reminders, their role)",
    )
    common(pair)
    phones = sub.add_parser("phones", help="list paired phones, or revoke one")
    phones.add_argument("action", nargs="?", choices=["list", "revoke"], default="list")
    phones.add_argument("phone", nargs="?", help="the phone's id or name (for revoke)")
    phones.add_argument("--json", action="store_true")
    common(phones)


def run(args: argparse.Namespace, data_dir: Path) -> int:
    if args.command == "phones" and args.action == "revoke" and not args.phone:
        raise CommandLineError("say which phone: `assistant phones revoke ID` (`assistant phones` lists them)")
    lock = DataDirLock(data_dir)
    try:
        lock.acquire("")
    except StoreError:
        result = _ask_running(args, data_dir)  # the assistant runs: it owns the phone list
    else:
        try:
            result = _direct(args, data_dir)
        finally:
            lock.release()
    _print(args, result)
    return 0


def _direct(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    from assistant.trust.admin import record_admin
    from assistant.web.auth import Phones
    from assistant.web.certificate import ensure_certificate
    from assistant.web.server import web_dir

    person = _enrolled(data_dir, args.person) if args.command == "pair" and args.person is not None else None
    phones = Phones(web_dir(data_dir))
    try:
        if args.command == "pair":
            code, expires = phones.new_code(args.admin, person)
            if args.admin:
                record_admin(data_dir, "admin pairing code made", "cli", expires=expires)
            cert = ensure_certificate(web_dir(data_dir))  # the CA the phone installs, made now if it is the first run
            return {
                "code": code,
                "expires": expires,
                "admin": args.admin,
                "person": person,
                "urls": [],
                "fingerprint": None,
                "ca_fingerprint": cert.ca_fingerprint,
                "running": False,
            }
        if args.action == "revoke":
            phone = phones.revoke(args.phone)
            record_admin(data_dir, "phone revoked", "cli", phone=phone.id, name=phone.name)
            return {"revoked": asdict(phone)}
        return {"phones": [asdict(p) for p in phones.all()]}
    finally:
        phones.close()


def _enrolled(data_dir: Path, name: str) -> str:
    """`name` as enrolled; a clear error when nobody of that name is."""
    from assistant.people.household import Household
    from assistant.trust.vault import Vault
    from assistant.web.phone_person import enrolled_name

    found = enrolled_name(Household(data_dir, Vault(data_dir)), name)
    if found is None:
        raise WebError(f"nobody called {name!r} is enrolled (see `assistant people list`)")
    return found


def _ask_running(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    from assistant.web.server import ADMIN_HEADER, admin_key, web_dir

    info_file = web_dir(data_dir) / "server.json"
    try:
        info = json.loads(info_file.read_text())
    except (OSError, ValueError):
        raise WebError(
            "the assistant is running without its phone page (web.enabled is false, or it reads a WAV "
            "file): start it with the page, or stop it and pair then"
        ) from None
    body: bytes | None = b"{}"
    if args.command == "pair":
        path, body = "/admin/pair-code", json.dumps({"admin": args.admin, "person": args.person}).encode()
    elif args.action == "revoke":
        path = f"/admin/revoke/{urllib.parse.quote(args.phone, safe='')}"
    else:
        path, body = "/admin/phones", None
    request = urllib.request.Request(
        info["loopback"].rstrip("/") + path,
        data=body,
        method="GET" if body is None else "POST",
        headers={ADMIN_HEADER: admin_key(data_dir), "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            result: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as e:
        answer: dict[str, Any] = json.loads(e.read() or b"{}")
        raise WebError(answer.get("error") or f"the assistant answered {e.code}") from None
    except (urllib.error.URLError, TimeoutError) as e:
        raise WebError(f"the running assistant did not answer on {info['loopback']}: {e}") from None
    result["running"] = True
    return result


def _print(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(result, indent=1))
        return
    if args.command == "pair":
        expires = dt.datetime.fromtimestamp(result["expires"]).strftime("%H:%M")
        for url in result["urls"][:1]:
            link = f"{url}#code={result['code']}"
            _print_qr(link)
            print(
                f"Open {link} on the phone, or type the code. The first time, accept the certificate warning once "
                f"and install the assistant's root certificate from {url}ca.crt (the page links it too)."
            )
        admin = "; an admin phone: it may unpair other phones" if result.get("admin") else ""
        if result.get("person"):
            admin += f"; the phone asks as {result['person']}"
        print(
            f"Pairing code: {result['code'][:3]}-{result['code'][3:]}  (one use, until {expires}; "
            f"wrong guesses void it{admin})"
        )
        if result.get("ca_fingerprint"):
            print(f"The root certificate's fingerprint (SHA-256), as the phone shows it: {result['ca_fingerprint']}")
        if not result["running"]:
            print("The assistant is not running: start it with `assistant run`, then open its page on the phone.")
        elif result["urls"] and all(is_loopback(urllib.parse.urlsplit(u).hostname or "") for u in result["urls"]):
            print(
                "The page listens on this machine only (web.bind is loopback), so a phone cannot reach it: set "
                "`web: {bind: 0.0.0.0}` in the config (or ASSISTANT__WEB__BIND=0.0.0.0) and start the assistant again."
            )
        return
    if "revoked" in result:
        print(f"revoked: {result['revoked']['name']} ({result['revoked']['id']}); its token no longer works")
        return
    for p in result["phones"]:
        paired = dt.datetime.fromtimestamp(p["paired_at"]).isoformat(timespec="minutes")
        person = f"  as {p['person']}" if p.get("person") else ""
        print(f"{p['id']}  {p['name']}  paired {paired}{person}")
    if not result["phones"]:
        print("no phones are paired; `assistant pair` pairs one")


def _print_qr(text: str) -> None:
    import qrcode

    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_L)
    qr.add_data(text)
    qr.make(fit=True)
    qr.print_ascii(out=sys.stdout, invert=True)
