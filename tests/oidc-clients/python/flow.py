"""Python's authlib, unmodified, as a web app's server uses it to "Sign in with qrlogin".

Driven by tests/e2e/oidc_libraries.rs, which plays the user's browser and phone: this script
prints the address to send the browser to (AUTHORIZE ...), reads back the address the browser
returned to, and then does what an app does: exchanges the code with PKCE (authenticated
with client_secret_post), verifies the identity token against the JWKS (issuer, audience,
nonce, expiry), reads userinfo, refreshes, revokes, and signs out (LOGOUT ...). Once the
harness says the browser followed that address (SIGNED_OUT), it checks that the refresh token
died with the sign-in. A failed check raises: the process exits non-zero with the reason.
"""

import os
import sys
import warnings

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # authlib.jose says it will move to joserfc in 2.0
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

env = os.environ
issuer, client_id = env["ISSUER"], env["CLIENT_ID"]
meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
assert meta["issuer"] == issuer, meta["issuer"]
app = OAuth2Session(
    client_id,
    env["CLIENT_SECRET"],
    scope="openid profile",
    redirect_uri=env["REDIRECT_URI"],
    code_challenge_method="S256",
    token_endpoint_auth_method="client_secret_post",
)
verifier, nonce = generate_token(64), generate_token(20)
url, state = app.create_authorization_url(
    meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
)
print(f"AUTHORIZE {url}", flush=True)

callback = sys.stdin.readline().strip()
token = app.fetch_token(
    meta["token_endpoint"],
    authorization_response=callback,
    code_verifier=verifier,
    state=state,
)
keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())


def identity(id_token, expected_nonce=None):
    """The identity token's claims, its signature and claims checked."""
    options = {"iss": {"essential": True, "values": [issuer]}}
    params = {"client_id": client_id}
    if expected_nonce:
        params["nonce"] = expected_nonce
    claims = jwt.decode(
        id_token, keys, claims_cls=CodeIDToken, claims_options=options, claims_params=params
    )
    claims.validate()
    return claims


claims = identity(token["id_token"], nonce)
assert claims["aud"] == client_id and claims["nonce"] == nonce
info = app.get(meta["userinfo_endpoint"]).json()
assert info["sub"] == claims["sub"] and info["name"], info

refreshed = app.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
assert refreshed["refresh_token"] != token["refresh_token"], "the refresh token rotated"
assert identity(refreshed["id_token"])["sub"] == claims["sub"]
# The replaced access token is revoked on request (RFC 7009), and answers 200 either way.
app.revoke_token(meta["revocation_endpoint"], token=token["access_token"])

logout = requests.Request(
    "GET",
    meta["end_session_endpoint"],
    params={
        "id_token_hint": refreshed["id_token"],
        "post_logout_redirect_uri": env["POST_LOGOUT_REDIRECT_URI"],
        "state": "signed-out",
    },
).prepare().url
print(f"LOGOUT {logout}", flush=True)
assert sys.stdin.readline().strip() == "SIGNED_OUT"
try:
    app.refresh_token(meta["token_endpoint"], refresh_token=refreshed["refresh_token"])
    raise AssertionError("a refresh token of an ended sign-in is refused")
except OAuthError as error:
    assert error.error == "invalid_grant", error
print(f'DONE {{"sub": "{claims["sub"]}", "name": "{info["name"]}"}}', flush=True)
