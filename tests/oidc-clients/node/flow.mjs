// Node's openid-client, unmodified, as a web app's server uses it to "Sign in with qrlogin".
// Driven by tests/e2e/oidc_libraries.rs, which plays the user's browser and phone: this
// script prints the address to send the browser to (AUTHORIZE …), reads back the address the
// browser returned to, and then does what an app does: exchanges the code (PKCE, state,
// nonce and the RFC 9207 issuer checked), verifies the identity token's signature against the
// JWKS, reads userinfo, refreshes, and signs out (LOGOUT …). Once the harness says the
// browser followed that address (SIGNED_OUT), it checks that the refresh token died with the
// sign-in. Each check that fails throws: the process exits non-zero with the reason.
import * as readline from "node:readline/promises";
import * as client from "openid-client";

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI } = process.env;
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async () => (await lines.next()).value;
const must = (ok, what) => { if (!ok) throw new Error(what); };

const config = await client.discovery(
  new URL(ISSUER),
  CLIENT_ID,
  // Nothing about algorithms: the library's default, RS256, is what the provider signs with.
  undefined,
  client.ClientSecretBasic(CLIENT_SECRET),
  // A test server on 127.0.0.1 speaks plain HTTP; identity tokens are checked against the
  // JWKS although they come straight from the token endpoint.
  { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
);
const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authorize = client.buildAuthorizationUrl(config, {
  redirect_uri: REDIRECT_URI,
  scope: "openid profile",
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: "S256",
  nonce,
  state,
});
console.log(`AUTHORIZE ${authorize.href}`);

const callback = new URL(await next());
const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
must(claims.aud === CLIENT_ID && claims.nonce === nonce, "identity token for this client and nonce");
must(typeof claims.auth_time === "number" && typeof claims.sid === "string", "auth_time and sid");
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
must(info.sub === claims.sub && typeof info.name === "string", "userinfo about the same user");

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
must(refreshed.refresh_token !== tokens.refresh_token, "the refresh token rotated");
must(refreshed.claims().sub === claims.sub, "a refreshed identity token about the same user");

const logout = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
  state: "signed-out",
});
console.log(`LOGOUT ${logout.href}`);
must((await next()) === "SIGNED_OUT", "the browser followed the logout address");
try {
  await client.refreshTokenGrant(config, refreshed.refresh_token);
  must(false, "a refresh token of an ended sign-in is refused");
} catch (error) {
  must(error.error === "invalid_grant", `refused as invalid_grant: ${error}`);
}
console.log(`DONE ${JSON.stringify({ sub: claims.sub, name: info.name })}`);
