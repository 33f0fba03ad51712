// Signs access tokens with the npm `jose` package (an independent JOSE
// implementation) for libsignet's interop test.
//   node sign_jose.mjs OUTDIR ISSUER AUDIENCE
// Writes OUTDIR/jose_jwks.json (public keys) and OUTDIR/jose_<alg>.jwt.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';

const [outDir, issuer, audience] = process.argv.slice(2);
const keys = [];
for (const alg of ['ES256', 'EdDSA', 'PS256', 'ES384']) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  jwk.kid = `jose-${alg}`;
  jwk.alg = alg;
  jwk.use = 'sig';
  keys.push(jwk);
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ scope: 'read', client_id: 'interop-jose' })
    .setProtectedHeader({ alg, kid: jwk.kid, typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(`jose-${alg}`)
    .setJti(`jose-${alg}-${now}`)
    .setIssuedAt(now - 5)
    .setNotBefore(now - 5)
    .setExpirationTime(now + 300)
    .sign(privateKey);
  writeFileSync(join(outDir, `jose_${alg}.jwt`), token);
}
writeFileSync(join(outDir, 'jose_jwks.json'), JSON.stringify({ keys }));
