"""A real SAML 2.0 identity provider for the tests: pysaml2's IdP (``saml2.server.Server``),
signing with a key made when the fixture starts (never stored in the repository).

Use it in-process (``respond`` turns kcdir's redirect to the IdP into the response a
browser would POST back), or serve ``wsgi_app`` on loopback for a browser: ``GET
/metadata``, ``GET /sso`` (kcdir's AuthnRequest; shows a sign-in form), ``POST /sso``
(signs the person in and posts the response to kcdir's ACS with an auto-submitting
form that also works as a plain form).

Accounts carry the attributes ADFS sends (the claim URIs in
``identity.config.DEFAULT_CLAIMS["saml"]``).
"""

import base64
import copy
import datetime
import html
import shutil
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ADFS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
UPN = ADFS + "upn"
EMAIL = ADFS + "emailaddress"
GIVEN_NAME = ADFS + "givenname"
SURNAME = ADFS + "surname"
DISPLAY_NAME = "http://schemas.microsoft.com/identity/claims/displayname"
DEPARTMENT = ADFS + "department"
TITLE = ADFS + "title"

ACCOUNTS = {
    "grace": {
        "subject": "7f3c0a55-grace",
        UPN: "grace.hopper@corp.example",
        EMAIL: "grace@corp.example",
        GIVEN_NAME: "Grace",
        SURNAME: "Hopper",
        DISPLAY_NAME: "Grace Hopper",
        DEPARTMENT: "Compilers",
        TITLE: "Rear Admiral",
    },
    "alan": {
        "subject": "91b2e6d0-alan",
        UPN: "alan.turing@corp.example",
        EMAIL: "alan@corp.example",
        GIVEN_NAME: "Alan",
        SURNAME: "Turing",
        DISPLAY_NAME: "Alan Turing",
        DEPARTMENT: "Codebreaking",
        TITLE: "Cryptanalyst",
    },
}

XMLSEC1 = shutil.which("xmlsec1")


def key_and_certificate(common_name: str) -> tuple[bytes, bytes]:
    """A new RSA key and a self-signed certificate for it, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


class SamlIdP:
    def __init__(self, workdir: Path, base_url: str = "http://127.0.0.1:8765"):
        self.workdir = Path(workdir)
        self.base_url = base_url.rstrip("/")
        key, cert = key_and_certificate("kcdir test IdP")
        self.key_file = self.workdir / "idp.key"
        self.cert_file = self.workdir / "idp.crt"
        self.key_file.write_bytes(key)
        self.cert_file.write_bytes(cert)
        self.accounts = copy.deepcopy(ACCOUNTS)
        self.sp_metadata: list[str] = []
        self._servers = {}

    # -- configuration ------------------------------------------------------------------

    @property
    def entity_id(self) -> str:
        return self.base_url + "/metadata"

    @property
    def sso_url(self) -> str:
        return self.base_url + "/sso"

    def config(self, lifetime_minutes: int = 5):
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.config import IdPConfig
        from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT

        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (self.sso_url, BINDING_HTTP_REDIRECT),
                                (self.sso_url, BINDING_HTTP_POST),
                            ],
                        },
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": lifetime_minutes},
                                "attribute_restrictions": None,
                                "name_form": NAME_FORMAT_URI,
                            },
                        },
                        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                        "want_authn_requests_signed": False,
                    },
                },
                "key_file": str(self.key_file),
                "cert_file": str(self.cert_file),
                "xmlsec_binary": XMLSEC1,
                "metadata": {"inline": list(self.sp_metadata)},
                "allow_unknown_attributes": True,
            }
        )
        return config

    def metadata_xml(self) -> str:
        from saml2.metadata import entity_descriptor

        return str(entity_descriptor(self.config()))

    def write_metadata(self) -> Path:
        path = self.workdir / "idp-metadata.xml"
        path.write_text(self.metadata_xml(), encoding="utf-8")
        return path

    def trust_sp(self, metadata_xml: str | bytes) -> None:
        """Read a service provider's metadata (kcdir's, from its metadata URL)."""
        if isinstance(metadata_xml, bytes):
            metadata_xml = metadata_xml.decode()
        self.sp_metadata.append(metadata_xml)
        self._servers.clear()

    def server(self, lifetime_minutes: int = 5):
        from saml2.server import Server

        if lifetime_minutes not in self._servers:
            self._servers[lifetime_minutes] = Server(config=self.config(lifetime_minutes))
        return self._servers[lifetime_minutes]

    # -- the protocol -------------------------------------------------------------------

    def parse_request(self, redirect_url: str):
        """kcdir's AuthnRequest, from the URL kcdir redirected the browser to."""
        from saml2 import BINDING_HTTP_REDIRECT

        query = parse_qs(urlsplit(redirect_url).query)
        request = self.server().parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
        return request.message, query.get("RelayState", [""])[0]

    def respond(
        self,
        redirect_url: str,
        username: str,
        *,
        sign: bool = True,
        destination: str | None = None,
        in_response_to: str | None = "",
        lifetime_minutes: int = 5,
        edit=None,
        sha1: bool = False,
        recipient: str | None = None,
    ) -> dict:
        """What the browser POSTs to kcdir after ``username`` signs in: ``{"url",
        "SAMLResponse", "RelayState"}``. The keyword arguments make it wrong on purpose:
        unsigned, sent to another ``destination`` (also its Recipient unless
        ``recipient`` says otherwise), answering another request (``None``: no
        InResponseTo, as a provider-initiated sign-in), already expired (a negative
        lifetime), signed with SHA-1, or ``edit``ed (a function of the signed XML text)
        after signing."""
        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
        from saml2.time_util import in_a_while
        from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

        request, relay_state = self.parse_request(redirect_url)
        acs_url = request.assertion_consumer_service_url
        destination = destination or acs_url
        if in_response_to == "":
            in_response_to = request.id
        account = self.accounts[username]
        identity = {name: [value] for name, value in account.items() if name != "subject"}
        confirmation = {"method": "urn:oasis:names:tc:SAML:2.0:cm:bearer"}
        data = {
            "recipient": recipient or destination,
            "not_on_or_after": in_a_while(minutes=lifetime_minutes),
        }
        if in_response_to:
            data["in_response_to"] = in_response_to
        confirmation["subject_confirmation_data"] = data
        response = self.server(lifetime_minutes).create_authn_response(
            identity,
            in_response_to,
            destination,
            request.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=account["subject"]),
            authn={
                "class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            },
            sign_assertion=sign,
            sign_response=False,
            sign_alg=SIG_RSA_SHA1 if sha1 else SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA1 if sha1 else DIGEST_SHA256,
            farg={"assertion": {"subject": {"subject_confirmation": confirmation}}},
        )
        xml = str(response)
        if edit is not None:
            xml = edit(xml)
        return {
            "url": acs_url,
            "SAMLResponse": base64.b64encode(xml.encode()).decode(),
            "RelayState": relay_state,
        }

    # -- as a web site, for a browser ---------------------------------------------------

    def wsgi_app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path == "/metadata":
            return self._answer(start_response, self.metadata_xml(), "application/xml")
        if path == "/sso" and method == "GET":
            redirect_url = self.base_url + "/sso?" + environ.get("QUERY_STRING", "")
            return self._answer(start_response, self._sign_in_page(redirect_url))
        if path == "/sso" and method == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            form = parse_qs(environ["wsgi.input"].read(size).decode())
            username = form.get("username", [""])[0].strip().lower()
            redirect_url = form["request"][0]
            if username not in self.accounts:
                return self._answer(start_response, self._sign_in_page(redirect_url, unknown=True))
            posted = self.respond(redirect_url, username)
            return self._answer(start_response, self._post_page(posted))
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    @staticmethod
    def _answer(start_response, text: str, content_type: str = "text/html"):
        body = text.encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", f"{content_type}; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    @staticmethod
    def _sign_in_page(redirect_url: str, unknown: bool = False) -> str:
        error = "<p role='alert'>No such account.</p>" if unknown else ""
        return (
            "<!doctype html><html lang='en'><head><title>Test IdP sign-in</title></head><body>"
            f"<main><h1>Test IdP</h1>{error}<form method='post' action='/sso'>"
            f"<input type='hidden' name='request' value='{html.escape(redirect_url, quote=True)}'>"
            "<label for='idp-user'>IdP username</label> <input id='idp-user' name='username'>"
            "<button type='submit'>Sign in at the IdP</button></form></main></body></html>"
        )

    @staticmethod
    def _post_page(posted: dict) -> str:
        fields = "".join(
            f"<input type='hidden' name='{name}' value='{html.escape(posted[name], quote=True)}'>"
            for name in ("SAMLResponse", "RelayState")
        )
        return (
            "<!doctype html><html lang='en'><head><title>Signing in</title></head>"
            "<body><form method='post' action='" + html.escape(posted["url"], quote=True) + "'>"
            f"{fields}<button type='submit'>Continue</button></form>"
            "<script>document.forms[0].submit()</script></body></html>"
        )


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ServedIdP:
    """``SamlIdP`` answering HTTP on loopback in a thread, for as long as it is open."""

    def __init__(self, workdir: Path):
        self.httpd: WSGIServer = make_server("127.0.0.1", 0, self._app, handler_class=_QuietHandler)
        self.idp = SamlIdP(workdir, f"http://127.0.0.1:{self.httpd.server_port}")
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _app(self, environ, start_response):
        return self.idp.wsgi_app(environ, start_response)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
