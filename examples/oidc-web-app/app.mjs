// "Sign in with qrlogin" in a Node web app, with the openid-client library and nothing else.
// Register the app first:
//   qrlogin clients add "My app" --redirect-uri http://localhost:3000/callback \
//     --post-logout-redirect-uri http://localhost:3000/
// then: npm install && ISSUER=http://localhost:98 CLIENT_ID=cl_… CLIENT_SECRET=qrk_… node app.mjs
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import * as oidc from "openid-client";

const { ISSUER, CLIENT_ID, CLIENT_SECRET, PORT = "3000" } = process.env;
const here = `http://localhost:${PORT}`;
const config = await oidc.discovery(new URL(ISSUER), CLIENT_ID,
  undefined, oidc.ClientSecretBasic(CLIENT_SECRET),
  // Plain HTTP is for a qrlogin on this machine only.
  { execute: ISSUER.startsWith("http:") ? [oidc.allowInsecureRequests] : [] });
const sessions = new Map(); // browser cookie -> { verifier, state, nonce } or { user, idToken }

createServer(async (req, res) => {
  const sid = /sid=([\w-]+)/.exec(req.headers.cookie ?? "")?.[1] ?? randomUUID();
  const session = sessions.get(sid) ?? {};
  sessions.set(sid, session);
  const send = (status, headers, body = "") =>
    res.writeHead(status, { "Set-Cookie": `sid=${sid}; HttpOnly; SameSite=Lax; Path=/`, ...headers }).end(body);
  const url = new URL(req.url, here);
  try {
    if (url.pathname === "/login") {
      Object.assign(session, { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() });
      const to = oidc.buildAuthorizationUrl(config, { redirect_uri: `${here}/callback`, scope: "openid profile",
        code_challenge: await oidc.calculatePKCECodeChallenge(session.verifier), code_challenge_method: "S256",
        state: session.state, nonce: session.nonce });
      return send(302, { Location: to.href });
    }
    if (url.pathname === "/callback") {
      const tokens = await oidc.authorizationCodeGrant(config, url,
        { pkceCodeVerifier: session.verifier, expectedState: session.state, expectedNonce: session.nonce });
      const user = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
      sessions.set(sid, { user, idToken: tokens.id_token });
      return send(302, { Location: "/" });
    }
    if (url.pathname === "/logout" && session.idToken) {
      sessions.delete(sid);
      const to = oidc.buildEndSessionUrl(config, { id_token_hint: session.idToken, post_logout_redirect_uri: `${here}/` });
      return send(302, { Location: to.href });
    }
    const body = session.user
      ? `<p>Signed in as ${session.user.name.replace(/[<&]/g, "")}. <a href="/logout">Sign out</a></p>`
      : `<p><a href="/login">Sign in with qrlogin</a></p>`;
    send(200, { "Content-Type": "text/html; charset=utf-8" }, `<!doctype html><title>My app</title>${body}`);
  } catch (error) {
    send(400, { "Content-Type": "text/plain" }, `Sign-in failed: ${error.message}`);
  }
}).listen(Number(PORT), () => console.log(`${here}: open it and sign in`));
