"""A real SAML 2.0 service provider for tenantry's IdP tests (issue 7): the PyPI package
pysaml2 acting as SP. The Rust test (tests/it/saml_pysaml2.rs) drives it step by step;
every command prints one JSON object on stdout and exits 1 with the reason on stderr when
pysaml2 refuses what it was given.

Usage: sp.py DIR COMMAND [ARGS...]
  init ENTITY_ID BASE_URL [OPTIONS]
                               new key and certificate in DIR; prints {"metadata"}.
                               OPTIONS, comma-separated: unsolicited (accept IdP-initiated
                               responses), noenc (no encryption key in the metadata)
  login                        a signed HTTP-Redirect AuthnRequest to the IdP in
                               DIR/idp.xml; prints {"id", "url"}
  verify REQUEST_ID            reads a base64 SAMLResponse on stdin, validates it
                               (signatures, conditions, audience, InResponseTo,
                               Destination); prints {"name_id", "session_index",
                               "issuer", "attributes"}
  logout NAME_ID SESSION_INDEX a signed HTTP-Redirect LogoutRequest; prints {"id", "url"}
  logout-response REQUEST_ID BINDING
                               reads a base64 LogoutResponse on stdin (BINDING post or
                               redirect: then stdin is the whole query string) and
                               validates it; prints {"status", "in_response_to"}
"""

import base64
import datetime
import json
import os
import shutil
import sys
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256


def config(d, with_idp=True):
    with open(os.path.join(d, "sp.json")) as f:
        me = json.load(f)
    base = me["base"]
    conf = {
        "entityid": me["entity_id"],
        "key_file": os.path.join(d, "sp.key"),
        "cert_file": os.path.join(d, "sp.crt"),
        "xmlsec_binary": shutil.which("xmlsec1"),
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "service": {
            "sp": {
                "name": "pysaml2 test SP",
                "endpoints": {
                    "assertion_consumer_service": [(base + "/acs", BINDING_HTTP_POST)],
                    "single_logout_service": [
                        (base + "/slo", BINDING_HTTP_POST),
                        (base + "/slo", BINDING_HTTP_REDIRECT),
                    ],
                },
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "want_response_signed": True,
                "want_assertions_signed": True,
                "want_assertions_or_response_signed": True,
                "allow_unsolicited": me.get("allow_unsolicited", False),
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
            }
        },
    }
    if me.get("encrypt", True):
        # Published as a KeyDescriptor use="encryption": the IdP encrypts assertions.
        conf["encryption_keypairs"] = [
            {
                "key_file": os.path.join(d, "sp.key"),
                "cert_file": os.path.join(d, "sp.crt"),
            }
        ]
    if with_idp:
        conf["metadata"] = {"local": [os.path.join(d, "idp.xml")]}
    c = SPConfig()
    c.load(conf)
    return c


def idp_entity(client):
    return next(iter(client.metadata.identity_providers()))


def init(d, entity_id, base, options=""):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysaml2 test SP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(d, "sp.key"), "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(os.path.join(d, "sp.crt"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(d, "sp.json"), "w") as f:
        json.dump(
            {
                "entity_id": entity_id,
                "base": base,
                "allow_unsolicited": "unsolicited" in options.split(","),
                "encrypt": "noenc" not in options.split(","),
            },
            f,
        )
    md = create_metadata_string(None, config(d, with_idp=False), sign=False)
    return {"metadata": md.decode() if isinstance(md, bytes) else md}


def redirect_location(info):
    return dict(info["headers"])["Location"]


def login(d):
    client = Saml2Client(config(d))
    req_id, info = client.prepare_for_authenticate(
        entityid=idp_entity(client),
        relay_state="/after-login",
        binding=BINDING_HTTP_REDIRECT,
        sign=True,
        sigalg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    return {"id": req_id, "url": redirect_location(info)}


def verify(d, request_id):
    client = Saml2Client(config(d))
    encoded = sys.stdin.read().strip()
    outstanding = {} if request_id == "-" else {request_id: "/after-login"}
    resp = client.parse_authn_request_response(
        encoded, BINDING_HTTP_POST, outstanding=outstanding
    )
    if resp is None:
        raise ValueError("pysaml2 returned no response")
    assertion = resp.assertion
    stmt = assertion.authn_statement[0] if assertion.authn_statement else None
    return {
        # pysaml2 has decrypted it by now (it replaces the EncryptedAssertion).
        "encrypted": b"EncryptedAssertion" in base64.b64decode(encoded),
        "name_id": resp.name_id.text if resp.name_id is not None else None,
        "name_id_format": resp.name_id.format if resp.name_id is not None else None,
        "session_index": stmt.session_index if stmt is not None else None,
        "issuer": resp.issuer(),
        "in_response_to": resp.in_response_to,
        "attributes": resp.get_identity(),
    }


def logout(d, name_id, session_index):
    client = Saml2Client(config(d))
    idp = idp_entity(client)
    dest = client.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")[0][
        "location"
    ]
    req_id, req = client.create_logout_request(
        dest,
        idp,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=name_id),
        session_indexes=[session_index] if session_index != "-" else None,
        sign=False,
    )
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(req),
        dest,
        relay_state="/after-logout",
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    return {"id": req_id, "url": redirect_location(info)}


def logout_response(d, request_id, binding):
    client = Saml2Client(config(d))
    client.state[request_id] = {
        "entity_id": idp_entity(client),
        "operation": "SLO",
        "sign": True,
        "not_on_or_after": 0,
    }
    data = sys.stdin.read().strip()
    if binding == "redirect":
        q = dict(urllib.parse.parse_qsl(data))
        resp = client.parse_logout_request_response(
            q["SAMLResponse"], BINDING_HTTP_REDIRECT
        )
    else:
        resp = client.parse_logout_request_response(data, BINDING_HTTP_POST)
    if resp is None:
        raise ValueError("pysaml2 returned no logout response")
    return {
        "status": resp.response.status.status_code.value,
        "in_response_to": resp.response.in_response_to,
        "destination": resp.response.destination,
    }


def main():
    d, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    commands = {
        "init": init,
        "login": login,
        "verify": verify,
        "logout": logout,
        "logout-response": logout_response,
    }
    try:
        out = commands[cmd](d, *args)
    except Exception as e:  # noqa: BLE001 - any refusal is the answer
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
