// npm `jose` peer for the "verify" workload (bench/README.md).
//
// jwtVerify with a KeyLike imported once (importJWK), the algorithm pinned
// and iss/aud/typ checked, timed in-process with performance.now(): warm-up
// for a quarter of the budget, then as many calls as fit in the budget.
// jose verifies through WebCrypto, so each call is awaited. Prints a
// "sample" (per second of wall clock) and a "cpusample" (per second of the
// process's CPU time, all threads) like signet-bench. bench/run.sh copies this file next to
// the node_modules it installed, so that `import 'jose'` resolves.
//
// usage: node jose_bench.mjs FIXTURES_DIR ALG REP BUDGET_S
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { importJWK, jwtVerify } from 'jose';

const STEMS = { ES256: 'es256', EdDSA: 'eddsa', PS256: 'ps256' };
const [fixtures, alg, rep, budgetArg] = process.argv.slice(2);
const budget = Number(budgetArg) * 1000;
const stem = STEMS[alg];
const token = readFileSync(`${fixtures}/${stem}.token`, 'utf8');
const jwk = JSON.parse(readFileSync(`${fixtures}/${stem}.jwk.json`, 'utf8'));
const params = JSON.parse(readFileSync(`${fixtures}/params.json`, 'utf8'));
const key = await importJWK(jwk, alg);
const options = { issuer: params.iss, audience: params.aud, algorithms: [alg], typ: 'at+jwt' };

async function runFor(ms) {
  let n = 0;
  let batch = 1;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    const t0 = now;
    for (let i = 0; i < batch; i++) {
      const { payload } = await jwtVerify(token, key, options);
      if (payload.iss !== params.iss) throw new Error('jose: wrong claims');
    }
    n += batch;
    now = performance.now();
    if (now - t0 < 1) batch *= 2;
  }
  const cpu = process.cpuUsage(cpu0); // every thread of the process, in µs
  return [n, (now - start) / 1000, (cpu.user + cpu.system) / 1e6];
}

await runFor(budget / 4);
const [n, spent, cpu] = await runFor(budget);
console.log(`sample\tverify\t${alg}\tjose\t${rep}\t${(n / spent).toFixed(1)}`);
console.log(`cpusample\tverify\t${alg}\tjose\t${rep}\t${(n / cpu).toFixed(1)}`);
