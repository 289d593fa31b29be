// A real OpenID Connect provider (the npm package oidc-provider) on loopback, for the single
// sign-on tests. It listens on a free port and prints its issuer as its first line of output.
//
// Environment:
//   OIDC_PROVIDER_MODULE   path of oidc-provider's package folder (.cache/npm/node_modules/...)
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URIS     comma-separated callback URLs the client may use (any port)
//   OIDC_LOGOUT_URIS       comma-separated post-logout redirect URLs (any port; may be empty)
//   OIDC_USERS_FILE        JSON {"username": {"password", "sub", "email", "name", "groups": []}},
//                          read again on every sign-in so a test can change a person's groups
//
// People sign in through a plain HTML form (username, password); consent is implied, as it is
// for an organisation's own applications. Plain http on loopback, so no TLS is involved.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const env = process.env;
const { default: Provider } = await import(
  pathToFileURL(path.join(env.OIDC_PROVIDER_MODULE, 'lib', 'index.js')).href);

const list = (value) => (value || '').split(',').map((s) => s.trim()).filter(Boolean);
const readUsers = () => JSON.parse(fs.readFileSync(env.OIDC_USERS_FILE, 'utf8'));
const bySub = (sub) => Object.entries(readUsers()).find(([, u]) => u.sub === sub);
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: env.OIDC_CLIENT_ID,
    client_secret: env.OIDC_CLIENT_SECRET,
    redirect_uris: list(env.OIDC_REDIRECT_URIS),
    post_logout_redirect_uris: list(env.OIDC_LOGOUT_URIS),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingKey] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, sub) {
    const found = bySub(sub);
    if (!found) return undefined;
    const [username, user] = found;
    return {
      accountId: sub,
      async claims() {
        return {
          sub, email: user.email, email_verified: true, name: user.name,
          preferred_username: username, groups: user.groups || [],
        };
      },
    };
  },
  // First-party application: every scope asked for is granted without a consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // Sign out at once when the application asks (the default page asks to confirm).
      async logoutSource(ctx, form) {
        ctx.body = `<!DOCTYPE html><html><body>${form}<script>
          var f = document.forms[0]; var i = document.createElement('input');
          i.type = 'hidden'; i.name = 'logout'; i.value = 'yes'; f.appendChild(i); f.submit();
          </script></body></html>`;
      },
    },
  },
  ttl: { Session: 600, Interaction: 600, Grant: 600, AccessToken: 600, IdToken: 600,
    AuthorizationCode: 60 },
});

// The test server's port is known only at run time: a registered callback or post-logout URL
// matches on any port of the same host (RFC 8252 allows this for loopback).
const anyPort = (value) => {
  try {
    const url = new URL(value);
    url.port = '';
    return url.href;
  } catch {
    return null;
  }
};
for (const [method, field] of [['redirectUriAllowed', 'redirectUris'],
  ['postLogoutRedirectUriAllowed', 'postLogoutRedirectUris']]) {
  const exact = provider.Client.prototype[method];
  provider.Client.prototype[method] = function allowed(value) {
    return exact.call(this, value)
      || (anyPort(value) !== null && (this[field] || []).some((uri) => anyPort(uri) === anyPort(value)));
  };
}

function loginPage(uid, error = '') {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test IdP sign-in</title>
  </head><body><h1>Test identity provider</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
  <form method="post" action="/interaction/${escape(uid)}">
  <label for="username">Username</label> <input id="username" name="username" autofocus>
  <label for="password">Password</label> <input id="password" name="password" type="password">
  <button type="submit">Sign in to the IdP</button></form></body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(loginPage(uid));
  }
  const form = await readForm(req);
  const user = readUsers()[form.get('username')];
  if (!user || user.password !== form.get('password')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(loginPage(uid, 'Wrong username or password.'));
  }
  return provider.interactionFinished(req, res, { login: { accountId: user.sub } },
    { mergeWithLastSubmission: false });
}

const handle = provider.callback();
server.on('request', (req, res) => {
  const match = req.url.match(/^\/interaction\/([\w-]+)$/);
  if (req.url === '/favicon.ico') {
    res.writeHead(204);
    return res.end();
  }
  if (!match) return handle(req, res);
  return interaction(req, res, match[1]).catch((error) => {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`interaction failed: ${error.message}`);
  });
});

console.log(issuer);
