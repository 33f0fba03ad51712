"""PyJWT peer for the "verify" workload (bench/README.md).

jwt.decode with a key prepared once (a cryptography public key object),
the algorithm pinned and iss/aud/exp/nbf/iat checked, timed in-process with
time.perf_counter: warm-up for a quarter of the budget, then as many calls
as fit in the budget. Prints a "sample" record (per second of wall clock)
and a "cpusample" (per second of process CPU time) like signet-bench.

usage: pyjwt_bench.py FIXTURES_DIR ALG REP BUDGET_S
"""
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

STEMS = {"ES256": "es256", "EdDSA": "eddsa", "PS256": "ps256"}


def main():
    fixtures, alg, rep, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    stem = STEMS[alg]
    with open(f"{fixtures}/{stem}.token") as f:
        token = f.read()
    with open(f"{fixtures}/{stem}.pub.pem", "rb") as f:
        key = load_pem_public_key(f.read())
    with open(f"{fixtures}/params.json") as f:
        params = json.load(f)
    options = {"require": ["exp", "iat", "iss", "aud"]}

    def verify():
        claims = jwt.decode(token, key, algorithms=[alg], audience=params["aud"],
                            issuer=params["iss"], options=options)
        if claims["iss"] != params["iss"]:
            raise SystemExit("pyjwt: wrong claims")

    def run_for(seconds):
        n, batch = 0, 1
        cpu0 = time.process_time()
        start = now = time.perf_counter()
        while now - start < seconds:
            t0 = now
            for _ in range(batch):
                verify()
            n += batch
            now = time.perf_counter()
            if now - t0 < 1e-3:
                batch *= 2
        return n, now - start, time.process_time() - cpu0

    run_for(budget / 4)
    n, spent, cpu = run_for(budget)
    print(f"sample\tverify\t{alg}\tpyjwt\t{rep}\t{n / spent:.1f}", flush=True)
    print(f"cpusample\tverify\t{alg}\tpyjwt\t{rep}\t{n / cpu:.1f}", flush=True)


if __name__ == "__main__":
    main()
