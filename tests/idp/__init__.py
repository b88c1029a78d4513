"""Real identity providers the single sign-on tests run against.

``start_oidc_provider`` runs ``oidc_provider.mjs`` (panva's oidc-provider, an OpenID
Certified provider, from node_modules) on a free port and returns it once its discovery
document answers; ``oidc_provider`` is a session fixture with kcdir's client registered
for the test client's callback address. Both skip, saying why, when Node or the package
is missing.
"""

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
PACKAGE = ROOT / "node_modules" / "oidc-provider"

CLIENT_ID = "kcdir"
CLIENT_SECRET = "kcdir-test-secret-0123456789abcdef"  # noqa: S105
OTHER_CLIENT_ID = "another-app"
PROVIDER_KEY = "corp"
PROVIDER_NAME = "Corp ID"


@dataclass
class RunningProvider:
    issuer: str
    process: subprocess.Popen

    def misbehave_next_token(self, **how) -> None:
        """The next token response misbehaves as ``how`` says (oidc_provider.mjs)."""
        requests.post(f"{self.issuer}/__test__/next-token", json=how, timeout=5).raise_for_status()

    def change_account(self, login: str, **claims) -> None:
        response = requests.post(
            f"{self.issuer}/__test__/account", json={"login": login, "claims": claims}, timeout=5
        )
        response.raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_oidc_provider(
    *, redirect_uris: list[str], post_logout_uris: list[str] = (), logout: bool = True
):
    node = shutil.which("node")
    if node is None:
        pytest.skip("the OIDC tests run a real provider on Node.js: `node` is not installed")
    if not PACKAGE.exists():
        pytest.skip(f"the OIDC tests need the npm package oidc-provider ({PACKAGE}): run `make`")
    uris = ",".join(redirect_uris)
    command = [
        node,
        str(SCRIPT),
        "--client",
        f"{CLIENT_ID}:{CLIENT_SECRET}:{uris}",
        "--client",
        f"{OTHER_CLIENT_ID}:another-secret-0123456789abcdef:{uris}",
    ]
    for uri in post_logout_uris:
        command += ["--post-logout", uri]
    if not logout:
        command.append("--no-logout")
    process = subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=5)
        raise RuntimeError(f"the test OpenID Provider did not start (exit {process.returncode})")
    provider = RunningProvider(issuer=json.loads(line)["issuer"], process=process)
    deadline = time.monotonic() + 15
    while True:
        try:
            requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=2)
            break
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                provider.stop()
                raise
            time.sleep(0.1)
    return provider


def provider_settings(issuer: str, **kwargs):
    """kcdir's settings for the running provider, as the environment would give them."""
    from identity.config import providers_from_env

    prefix = f"KCDIR_OIDC_{PROVIDER_KEY.upper()}_"
    environ = {
        "KCDIR_OIDC_PROVIDERS": PROVIDER_KEY,
        prefix + "NAME": PROVIDER_NAME,
        prefix + "ISSUER": issuer,
        prefix + "CLIENT_ID": CLIENT_ID,
        prefix + "CLIENT_SECRET": CLIENT_SECRET,
        **{prefix + name.upper(): value for name, value in kwargs.items()},
    }
    return providers_from_env(environ)


@pytest.fixture(scope="session")
def oidc_provider():
    """The provider, with kcdir registered for the Django test client's addresses."""
    provider = start_oidc_provider(
        redirect_uris=[f"http://testserver/sso/oidc/{PROVIDER_KEY}/callback/"],
        post_logout_uris=["http://testserver/accounts/login/"],
    )
    yield provider
    provider.stop()
