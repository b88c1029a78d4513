// A real OpenID Provider for the tests: panva's oidc-provider (OpenID Certified), from
// node_modules, with a few people, one confidential client per --client argument and
// PKCE required. Prints one JSON line ({"issuer": ...}) once it listens.
//
//   node tests/idp/oidc_provider.mjs --client kcdir:secret:http://testserver/cb[,more]
//        [--client other:secret2:...] [--post-logout http://testserver/accounts/login/]
//        [--no-logout]
//
// Its sign-in page asks for a login name (any password-less name below) and signs in
// at once; consent is given on the person's behalf (a first-party application).
//
// For the tests of what kcdir refuses, POST /__test__/next-token with a JSON body says
// how the next token response misbehaves, as a broken or hostile provider would:
//   {"claims": {...}}            ID token re-signed with the provider's own key, claims changed
//   {"claims": {...}, "resign": false}   claims changed, original signature kept (tampered)
//   {"foreign_key": true}        ID token signed with another key under the same key id
//   {"alg_none": true}           ID token unsigned (alg "none")
//   {"drop_id_token": true}      no ID token in the response
//   {"delay_ms": 3000}           the token response waits that long
import http from 'node:http';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';

const ACCOUNTS = {
  ada: {
    preferred_username: 'ada',
    email: 'ada@corp.example',
    given_name: 'Ada',
    family_name: 'Lovelace',
    name: 'Ada Lovelace',
    department: 'Analytical Engines',
    job_title: 'Analyst',
  },
  grace: {
    preferred_username: 'grace',
    email: 'grace@corp.example',
    given_name: 'Grace',
    family_name: 'Hopper',
    name: 'Grace Hopper',
    department: 'Compilers',
    job_title: 'Rear Admiral',
  },
  alan: {
    preferred_username: 'alan',
    email: 'alan@corp.example',
    given_name: 'Alan',
    family_name: 'Turing',
    name: 'Alan Turing',
    department: 'Codebreaking',
    job_title: 'Mathematician',
  },
};
// Changes the tests make to a person between sign-ins (POST /__test__/account).
const overrides = {};
const SUBJECTS = Object.fromEntries(Object.keys(ACCOUNTS).map((login) => [login, `sub-${login}-0001`]));
const LOGINS = Object.fromEntries(Object.entries(SUBJECTS).map(([login, sub]) => [sub, login]));

const { values } = parseArgs({
  options: {
    client: { type: 'string', multiple: true, default: [] },
    'post-logout': { type: 'string', multiple: true, default: [] },
    port: { type: 'string', default: '0' },
    // A provider without RP-initiated logout (no end_session_endpoint), as Google is.
    'no-logout': { type: 'boolean', default: false },
  },
});

const clients = values.client.map((spec) => {
  const [clientId, secret, ...rest] = spec.split(':');
  const redirectUris = rest.join(':').split(',').filter(Boolean);
  return {
    client_id: clientId,
    client_secret: secret,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: values['post-logout'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
});

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
const { privateKey: foreignKey } = await generateKeyPair('RS256', { extractable: true });

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    // Everything runs on 127.0.0.1 over http: SameSite=None would need Secure.
    long: { httpOnly: true, sameSite: 'lax' },
    short: { httpOnly: true, sameSite: 'lax' },
  },
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: !values['no-logout'] },
  },
  claims: {
    openid: ['sub'],
    email: ['email'],
    profile: ['preferred_username', 'given_name', 'family_name', 'name', 'department', 'job_title'],
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const login = LOGINS[sub];
    if (!login) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, ...ACCOUNTS[login], ...(overrides[login] || {}) };
      },
    };
  },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, IdToken: 300, AccessToken: 300 },
});

let nextToken = null;

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, clientId, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Test provider: sign in</title></head>
<body><main><h1>Test provider</h1><p>Sign in to continue to ${escapeHtml(clientId)}.</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}">
<label for="login">Login name</label> <input id="login" name="login" autocomplete="username" required>
<button type="submit">Continue</button>
<button type="submit" name="cancel" value="1" formnovalidate>Cancel</button></form></main></body></html>`;
}

async function grantFor(details, accountId) {
  const { params } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  return grant.save();
}

async function misbehave(body) {
  const tamper = nextToken;
  nextToken = null;
  if (tamper.drop_id_token) {
    delete body.id_token;
    return body;
  }
  const idToken = body.id_token;
  if (!idToken) return body;
  const [header, payload, signature] = idToken.split('.');
  const claims = { ...decodeJwt(idToken), ...(tamper.claims || {}) };
  const protectedHeader = decodeProtectedHeader(idToken);
  if (tamper.alg_none) {
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    body.id_token = `${none}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
  } else if (tamper.claims && tamper.resign === false) {
    const changed = Buffer.from(JSON.stringify(claims)).toString('base64url');
    body.id_token = `${header}.${changed}.${signature}`;
  } else if (tamper.foreign_key || tamper.claims) {
    const key = tamper.foreign_key ? foreignKey : privateKey;
    body.id_token = await new SignJWT(claims).setProtectedHeader(protectedHeader).sign(key);
  } else {
    body.id_token = `${header}.${payload}.${signature}`;
  }
  return body;
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test__/next-token' && ctx.method === 'POST') {
    nextToken = JSON.parse((await readBody(ctx.req)) || '{}');
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/__test__/account' && ctx.method === 'POST') {
    const { login, claims } = JSON.parse(await readBody(ctx.req));
    overrides[login] = { ...(overrides[login] || {}), ...claims };
    ctx.status = 204;
    return;
  }
  const interaction = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (interaction) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.prompt.name === 'login' && ctx.method === 'GET') {
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, details.params.client_id);
      return;
    }
    let accountId = details.session?.accountId;
    const result = {};
    if (details.prompt.name === 'login') {
      const form = new URLSearchParams(await readBody(ctx.req));
      if (form.get('cancel')) {
        const denied = { error: 'access_denied', error_description: 'The person cancelled.' };
        ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, denied));
        return;
      }
      const login = form.get('login')?.trim();
      accountId = SUBJECTS[login];
      if (!accountId) {
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, details.params.client_id, 'No such person.');
        return;
      }
      result.login = { accountId };
    }
    result.consent = { grantId: await grantFor(details, accountId) };
    ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result));
    return;
  }
  if (ctx.path === '/token' && nextToken?.delay_ms) {
    const delay = nextToken.delay_ms;
    nextToken = null;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && nextToken) {
    ctx.body = await misbehave({ ...ctx.body });
  }
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
