// DPoP interop (issue 12): real third-party clients get DPoP-bound tokens
// from signetd (client_credentials) and call examples/resource_server.c.
//   node dpop_interop.mjs ISSUER CLIENT_ID SECRET_FILE RS_NONCE_URL RS_PLAIN_URL OUTDIR
// RS_NONCE_URL: the example server demanding DPoP nonces; RS_PLAIN_URL: the
// same without nonces (its jti replay cache alone stops replays). Prints
// one line per check, "OK name ..." or "FAIL name ..."; exits 1 on any FAIL.
// Writes OUTDIR/<client>.token and OUTDIR/<client>.jwk (the public key) for
// the PyJWT check of cnf.jkt, and OUTDIR/<client>.jkt (jose's thumbprint).
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import * as DPoP from 'dpop';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';

const [issuer, clientId, secretFile, rsNonce, rsPlain, outdir] = process.argv.slice(2);
const secret = readFileSync(secretFile, 'utf8').trim();
let failed = 0;
const ok = (name, detail = '') => console.log(`OK ${name} ${detail}`);
const bad = (name, detail = '') => { failed++; console.log(`FAIL ${name} ${detail}`); };
const expect = (cond, name, detail = '') => (cond ? ok(name, detail) : bad(name, detail));

// Every response the libraries saw: [url path, status, WWW-Authenticate or error].
const seen = [];
async function tracingFetch(url, init) {
  const res = await fetch(url, init);
  const copy = res.clone();
  let what = res.headers.get('www-authenticate') || '';
  if (!what && res.status === 400) what = (await copy.json().catch(() => ({}))).error || '';
  seen.push([new URL(url).pathname, res.status, what]);
  return res;
}
const retried = (path, status, error) =>
  seen.some(([p, s, w]) => p.endsWith(path) && s === status && w.includes(error));

async function saveKey(name, kp, token) {
  const jwk = await exportJWK(kp.publicKey);
  writeFileSync(`${outdir}/${name}.jwk`, JSON.stringify(jwk));
  writeFileSync(`${outdir}/${name}.jkt`, await calculateJwkThumbprint(jwk, 'sha256'));
  writeFileSync(`${outdir}/${name}.token`, token);
}

// 1. openid-client: discovery, client_credentials with DPoP (ES256), then the
// protected resource; both use_dpop_nonce challenges retried by the library.
async function openidClient() {
  const config = await client.discovery(new URL(issuer), clientId, undefined,
    client.ClientSecretBasic(secret),
    { execute: [client.allowInsecureRequests], [client.customFetch]: tracingFetch });
  const kp = await client.randomDPoPKeyPair('ES256');
  const dpop = client.getDPoPHandle(config, kp);
  const tok = await client.clientCredentialsGrant(config, {}, { DPoP: dpop });
  expect(tok.token_type.toLowerCase() === 'dpop', 'openid-client.token_type', tok.token_type);
  expect(retried('/token', 400, 'use_dpop_nonce'), 'openid-client.as_nonce_retry',
    'signetd demanded a nonce, the client retried');
  await saveKey('openid-client', kp, tok.access_token);
  const res = await client.fetchProtectedResource(config, tok.access_token,
    new URL(`${rsNonce}/api/items`), 'GET', undefined, undefined, { DPoP: dpop });
  const body = await res.json();
  expect(res.status === 200 && body.scheme === 'DPoP' && body.client_id === clientId,
    'openid-client.resource', `${res.status} ${JSON.stringify(body)}`);
  expect(retried('/api/items', 401, 'use_dpop_nonce'), 'openid-client.rs_nonce_retry',
    'the resource server demanded a nonce, the client retried');
  // A second call reuses the nonce from the last answer: no new challenge.
  const before = seen.length;
  const again = await client.fetchProtectedResource(config, tok.access_token,
    new URL(`${rsNonce}/api/items`), 'GET', undefined, undefined, { DPoP: dpop });
  expect(again.status === 200 && seen.length === before + 1, 'openid-client.nonce_reused',
    `${again.status}, ${seen.length - before} request(s)`);
}

// 2. oauth4webapi used directly, with the retry loop its documentation gives
// for use_dpop_nonce. name: the check prefix; alg: the key's (an Ed25519 key
// signs with alg "Ed25519", RFC 9864, in panva's libraries, never "EdDSA").
async function oauth4(name, alg) {
  const as = await oauth.discoveryRequest(new URL(issuer),
    { [oauth.allowInsecureRequests]: true, [oauth.customFetch]: tracingFetch })
    .then((r) => oauth.processDiscoveryResponse(new URL(issuer), r));
  const c = { client_id: clientId };
  const kp = await oauth.generateKeyPair(alg);
  const dpop = oauth.DPoP(c, kp);
  const opts = { DPoP: dpop, [oauth.allowInsecureRequests]: true,
    [oauth.customFetch]: tracingFetch };
  const grant = () => oauth.clientCredentialsGrantRequest(as, c,
    oauth.ClientSecretBasic(secret), new URLSearchParams(), opts)
    .then((r) => oauth.processClientCredentialsResponse(as, c, r));
  let tok;
  try {
    tok = await grant();
  } catch (e) {
    if (!oauth.isDPoPNonceError(e)) throw e;
    tok = await grant();
  }
  expect(tok.token_type === 'dpop', `${name}.token_type`, tok.token_type);
  await saveKey(name, kp, tok.access_token);
  const call = () => oauth.protectedResourceRequest(tok.access_token, 'GET',
    new URL(`${rsNonce}/api/oauth4`), new Headers(), null, opts);
  let res;
  try {
    res = await call();
  } catch (e) {
    if (!oauth.isDPoPNonceError(e)) throw e;
    res = await call();
  }
  const body = await res.json();
  expect(res.status === 200 && body.scheme === 'DPoP', `${name}.resource`,
    `${res.status} ${JSON.stringify(body)}`);
}

// 3. The `dpop` package with plain fetch (ES256 key): every request and
// proof by hand, so the attacks can reuse them exactly.
async function tokenWithDpop(kp) {
  const url = `${issuer}/token`;
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)
    .toString('base64');
  let nonce;
  for (let i = 0; i < 2; i++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, dpop: await DPoP.generateProof(kp, url, 'POST', nonce),
        'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = await res.json();
    if (res.status === 400 && body.error === 'use_dpop_nonce' && i === 0) {
      nonce = res.headers.get('dpop-nonce');
      continue;
    }
    if (res.status !== 200) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
    return body;
  }
  throw new Error('token endpoint: no token after the nonce retry');
}

// GET base+path with the given Authorization and DPoP header values
// (undefined: no header); hostHeader overrides Host (node:http allows it).
function get(base, path, authorization, proof, hostHeader) {
  const u = new URL(base + path);
  const headers = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (proof !== undefined) headers.dpop = proof;
  if (hostHeader !== undefined) headers.host = hostHeader;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'GET',
      headers }, (res) => {
      let data = '';
      res.on('data', (d) => { data += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function dpopPackage() {
  const kp = await DPoP.generateKeyPair('ES256');
  const tok = await tokenWithDpop(kp);
  expect(tok.token_type === 'DPoP', 'dpop.token_type', tok.token_type);
  await saveKey('dpop', kp, tok.access_token);
  const at = tok.access_token;
  const auth = `DPoP ${at}`;

  // Nonce path: no nonce -> 401 use_dpop_nonce + DPoP-Nonce; retry -> 200.
  const path = '/api/dpop';
  const url = rsNonce + path;
  let r = await get(rsNonce, path, auth, await DPoP.generateProof(kp, url, 'GET', undefined, at));
  const nonce = r.headers['dpop-nonce'];
  expect(r.status === 401 && /^DPoP\b/.test(r.headers['www-authenticate'] || '') &&
    /error="use_dpop_nonce"/.test(r.headers['www-authenticate']) && !!nonce,
    'rs.nonce_demanded', `${r.status} ${r.headers['www-authenticate']} nonce=${!!nonce}`);
  const proof = await DPoP.generateProof(kp, url, 'GET', nonce, at);
  r = await get(rsNonce, path, auth, proof);
  expect(r.status === 200 && !!r.headers['dpop-nonce'], 'rs.nonce_retry_ok',
    `${r.status} ${r.body}`);
  // The very same request again: the proof's jti was seen.
  r = await get(rsNonce, path, auth, proof);
  expect(r.status === 401 && /invalid_dpop_proof/.test(r.headers['www-authenticate'] || ''),
    'rs.replay_refused', `${r.status} ${r.headers['www-authenticate']}`);
  // A nonce this server never issued.
  r = await get(rsNonce, path, auth,
    await DPoP.generateProof(kp, url, 'GET', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', at));
  expect(r.status === 401 && /use_dpop_nonce/.test(r.headers['www-authenticate'] || ''),
    'rs.forged_nonce_refused', `${r.status} ${r.headers['www-authenticate']}`);
  const fresh = r.headers['dpop-nonce'] || nonce;

  // The thief: the same token with a proof from another key.
  const thief = await DPoP.generateKeyPair('PS256');
  r = await get(rsNonce, path, auth, await DPoP.generateProof(thief, url, 'GET', fresh, at));
  expect(r.status === 401, 'rs.stolen_token_other_key_refused',
    `${r.status} ${r.headers['www-authenticate']}`);
  // Downgrade: the bound token as a Bearer token, without and with a proof.
  r = await get(rsNonce, path, `Bearer ${at}`, undefined);
  expect(r.status === 401, 'rs.bound_as_bearer_refused', `${r.status} ${r.headers['www-authenticate']}`);
  r = await get(rsNonce, path, `Bearer ${at}`, await DPoP.generateProof(kp, url, 'GET', fresh, at));
  expect(r.status === 401, 'rs.bound_as_bearer_with_proof_refused', `${r.status}`);
  // DPoP scheme without a proof; two DPoP headers; a proof for another URL.
  r = await get(rsNonce, path, auth, undefined);
  expect(r.status === 401, 'rs.missing_proof_refused', `${r.status}`);
  const p1 = await DPoP.generateProof(kp, url, 'GET', fresh, at);
  r = await get(rsNonce, path, auth, [p1, p1]);
  expect(r.status === 400 || r.status === 401, 'rs.two_proofs_refused', `${r.status}`);
  r = await get(rsNonce, path, auth,
    await DPoP.generateProof(kp, `${rsNonce}/api/other`, 'GET', fresh, at));
  expect(r.status === 401, 'rs.other_htu_refused', `${r.status}`);
  // The URL is the server's configured one, whatever Host says: a proof for
  // the Host the attacker sends is refused, one for the real URL accepted.
  r = await get(rsNonce, path, auth,
    await DPoP.generateProof(kp, `http://evil.example${path}`, 'GET', fresh, at), 'evil.example');
  expect(r.status === 401, 'rs.htu_from_host_refused', `${r.status}`);
  r = await get(rsNonce, path, auth, await DPoP.generateProof(kp, url, 'GET', fresh, at),
    'evil.example');
  expect(r.status === 200, 'rs.htu_from_config_ok', `${r.status} ${r.body}`);

  // An unbound (Bearer) token presented as DPoP, with a valid proof by some
  // key: refused (downgrade); the same token as Bearer is the control.
  const unbound = process.env.UNBOUND_TOKEN;
  if (unbound) {
    r = await get(rsNonce, path, `DPoP ${unbound}`,
      await DPoP.generateProof(kp, url, 'GET', fresh, unbound));
    expect(r.status === 401, 'rs.unbound_as_dpop_refused', `${r.status} ${r.headers['www-authenticate']}`);
    r = await get(rsNonce, path, `Bearer ${unbound}`, undefined);
    expect(r.status === 200, 'rs.unbound_as_bearer_ok', `${r.status} ${r.body}`);
  }

  // Without nonces: the replay cache alone stops a replay.
  const purl = rsPlain + path;
  const pp = await DPoP.generateProof(kp, purl, 'GET', undefined, at);
  r = await get(rsPlain, path, auth, pp);
  expect(r.status === 200, 'rs_plain.ok', `${r.status} ${r.body}`);
  r = await get(rsPlain, path, auth, pp);
  expect(r.status === 401 && /invalid_dpop_proof/.test(r.headers['www-authenticate'] || ''),
    'rs_plain.replay_refused', `${r.status} ${r.headers['www-authenticate']}`);
}

const runs = [['openid-client', openidClient],
  ['oauth4webapi', () => oauth4('oauth4webapi', 'PS256')], ['dpop', dpopPackage]];
// Only when signetd advertises it (DPOP_ED25519=1, from discovery).
if (process.env.DPOP_ED25519 === '1')
  runs.push(['oauth4webapi-ed25519', () => oauth4('oauth4webapi-ed25519', 'Ed25519')]);
for (const [name, fn] of runs) {
  try {
    await fn();
  } catch (e) {
    bad(`${name}.run`, `${e.name}: ${e.message} ${e.cause ? JSON.stringify(e.cause) : ''}`);
  }
}
process.exit(failed ? 1 : 0);
