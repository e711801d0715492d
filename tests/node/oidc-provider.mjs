// A real OpenID Connect provider for the identity tests: the npm `oidc-provider` package,
// unchanged, on loopback. It issues access tokens by the client-credentials grant, as PS256
// JWTs (resource urn:wafka:jwt) and as opaque tokens (resource urn:wafka:opaque), answers
// discovery, JWKS, introspection and revocation.
//
// Prints {"issuer": ...} once listening, then answers one JSON line per command on stdin:
//   token jwt|opaque   -> {"token": ...}   (client credentials, scope orders:write)
//   revoke TOKEN       -> {"revoked": true}
//   rotate             -> {"kid": ...}     a new signing key, published first; the old stays
//   keys               -> {"kids": [...]}
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import Provider from 'oidc-provider';

// stdout carries the answers only; the provider's own notices go to stderr.
const reply = (answer) => process.stdout.write(`${JSON.stringify(answer)}\n`);
console.log = console.info = console.warn = console.error;

const APP = { id: 'app', secret: 'app-secret-0123456789abcdef0123456789' };
export const GATEWAY = { id: 'wafka', secret: 'wafka-secret-0123456789abcdef01234567' };
const TTL = Number(process.env.TOKEN_TTL_SECONDS ?? 600);

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig' };
}

let keys = [signingKey()];
let provider;
let issuer;

function build() {
  const p = new Provider(issuer, {
    clients: [
      {
        client_id: APP.id,
        client_secret: APP.secret,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: 'orders:write',
      },
      {
        client_id: GATEWAY.id,
        client_secret: GATEWAY.secret,
        grant_types: [],
        redirect_uris: [],
        response_types: [],
      },
    ],
    jwks: { keys },
    scopes: ['orders:write'],
    ttl: { ClientCredentials: TTL },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => 'urn:wafka:jwt',
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: 'orders:write',
          audience: 'wafka',
          accessTokenTTL: TTL,
          accessTokenFormat: resource === 'urn:wafka:opaque' ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'PS256' } },
        }),
      },
    },
  });
  // Errors the provider answers are expected in these tests; keep its logs quiet.
  p.on('server_error', (_ctx, err) => console.error('oidc-provider:', err));
  return p;
}

const server = createServer((req, res) => provider.callback()(req, res));
// PORT picks the port (docs/identity.md uses 4000); the tests let the system choose.
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  provider = build();
  reply({ issuer });
});

async function call(path, form, client) {
  const basic = Buffer.from(`${client.id}:${client.secret}`).toString('base64');
  const res = await fetch(`${issuer}${path}`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

const commands = {
  async token(format) {
    const resource = format === 'opaque' ? 'urn:wafka:opaque' : 'urn:wafka:jwt';
    const answer = await call('/token', { grant_type: 'client_credentials', scope: 'orders:write', resource }, APP);
    return { token: answer.access_token };
  },
  async revoke(token) {
    await call('/token/revocation', { token, token_type_hint: 'access_token' }, APP);
    return { revoked: true };
  },
  async rotate() {
    keys = [signingKey(), ...keys];
    // The new instance signs with the first key; tokens live in the shared in-memory adapter.
    provider = build();
    return { kid: keys[0].kid };
  },
  async keys() {
    return { kids: keys.map((k) => k.kid) };
  },
};

// Commands run one at a time, in order, so each answer line matches its command.
let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const [name, arg] = line.trim().split(/\s+/, 2);
  queue = queue.then(async () => {
    try {
      reply(await commands[name](arg));
    } catch (e) {
      reply({ error: String(e.message ?? e) });
    }
  });
}).on('close', () => process.exit(0));
