#!/usr/bin/env bash
# Workload 3: 1 versus 2 verifying threads. Prints bench records
# (bench/README.md); run by bench/run.sh.
set -euo pipefail
wl=threads
r() { local IFS=$'\t'; echo "$*"; }

r workload $wl "3. Multi-thread validation scaling"
r desc $wl "Aggregate verifications per second of wall clock with 1 and 2 threads (ES256 token of workload 1). libsignet: one verifier shared by both threads, as a server would use it. OpenSSL: each thread has its own parsed key and EVP_MD_CTX (the most favourable setup), which shows what this box can do on 2 threads at the moment of the run. The six configurations are measured interleaved (5 slices each per repetition; threads are started afresh per slice)."
r ref $wl t1
r label $wl t1 "1 thread"
r label $wl t2 "2 threads"
r target $wl signet t2 1.8
r derive $wl "libsignet's 2-thread scaling relative to OpenSSL's in the same repetition (1 = scales exactly as well as the machine allowed)" signet t2 openssl t2
r derive $wl "Token-cache hits: 2-thread scaling relative to OpenSSL's" signet-hit t2 openssl t2
r note $wl "Load average when this workload started: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs. Anything else running on the machine takes from the second thread first: compare libsignet's scaling with OpenSSL's in the same repetition."

for rep in $(seq 1 "$BENCH_REPS"); do
  "$BENCH_BIN" threads "$BENCH_FIXTURES" "$rep" "$BENCH_BUDGET" 2
done
