// Verifies signetd access tokens with the npm `jose` package, as an
// independent relying party would: one token per stdin line, one verdict
// per stdout line ("OK <kid>" or "FAIL <code> <message>").
//   node verify_jose.mjs ISSUER AUDIENCE JWKS_URL CACHE_MAX_AGE_MS
import { createRemoteJWKSet, jwtVerify } from 'jose';
import readline from 'node:readline';

const [issuer, audience, jwksUrl, maxAge] = process.argv.slice(2);
// jose does not read Cache-Control: give it signetd's jwks_max_age, and let
// an unknown kid trigger a refetch at once (no cooldown).
const jwks = createRemoteJWKSet(new URL(jwksUrl), {
  cacheMaxAge: Number(maxAge),
  cooldownDuration: 0,
});
const rl = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of rl) {
  const token = line.trim();
  if (!token) continue;
  try {
    const { protectedHeader } = await jwtVerify(token, jwks, {
      issuer, audience, typ: 'at+jwt', algorithms: ['ES256', 'EdDSA', 'PS256'],
    });
    process.stdout.write(`OK ${protectedHeader.kid}\n`);
  } catch (e) {
    process.stdout.write(`FAIL ${e.code || e.name} ${String(e.message).replace(/\n/g, ' ')}\n`);
  }
}
