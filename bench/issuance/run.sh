#!/usr/bin/env bash
# Issuance benchmarks (issue 6, workloads 4-6): signetd end to end over HTTP
# against same-run references, key rotation under load, and memory.
#
#   bash bench/issuance/run.sh           full (~6 min): 3 repetitions of 4 s
#   BENCH_QUICK=1 bash bench/issuance/run.sh   smoke (~40 s)
#
# Called by bench/run.sh (then BENCH_BUILD is its release build) or on its
# own (then it configures build-iss/, Release). Writes bench/results/issuance.md
# (quick: bench/results/quick/issuance.md) and the raw records next to it.
# Every server listens on 127.0.0.1 only and every load is bounded in time.
#
# Knobs (environment): BENCH_ISS_SECONDS, BENCH_ISS_REPS, BENCH_ISS_CONNS (64),
# BENCH_ISS_THREADS (signetd [server] threads, 2: the default), BENCH_ISS_SIGNERS (2),
# BENCH_ISS_ROT_SECONDS, BENCH_ISS_MEM_TOKENS, BENCH_ISS_MEM_CAP (seconds),
# BENCH_ISS_PEOPLE_WORKERS (sign-in ceremony driver processes, 4).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/bench/issuance
quick=${BENCH_QUICK:-0}
log() { echo "issuance: $*" >&2; }

if [ "$quick" = 1 ]; then
  secs=${BENCH_ISS_SECONDS:-1} reps=${BENCH_ISS_REPS:-2} rot_secs=${BENCH_ISS_ROT_SECONDS:-15}
  norot_secs=4 mem_tokens=${BENCH_ISS_MEM_TOKENS:-100000} mem_cap=${BENCH_ISS_MEM_CAP:-3}
  out=$root/bench/results/quick
else
  secs=${BENCH_ISS_SECONDS:-4} reps=${BENCH_ISS_REPS:-3} rot_secs=${BENCH_ISS_ROT_SECONDS:-60}
  norot_secs=20 mem_tokens=${BENCH_ISS_MEM_TOKENS:-1000000} mem_cap=${BENCH_ISS_MEM_CAP:-120}
  out=$root/bench/results
fi
conns=${BENCH_ISS_CONNS:-64}
mhd_threads=${BENCH_ISS_THREADS:-2}
signers=${BENCH_ISS_SIGNERS:-2}
people_workers=${BENCH_ISS_PEOPLE_WORKERS:-4}
start_s=$(date +%s)

# ---- tools -----------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v softhsm2-util >/dev/null || need+=(softhsm2)
pkg-config --exists libmicrohttpd || need+=(libmicrohttpd-dev)
pkg-config --exists p11-kit-1 || need+=(libp11-kit-dev)
command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

build=${BENCH_BUILD:-}
if [ -z "$build" ]; then
  build=$root/build-iss
  [ -f "$build/CMakeCache.txt" ] ||
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g >/dev/null
fi
# The 5 s rotation state below needs [testing] allow_short_rotation, which
# only a testing build accepts (idempotent for a tree that already has it).
grep -q '^SIGNET_TESTING:BOOL=ON' "$build/CMakeCache.txt" ||
  cmake -S . -B "$build" -DSIGNET_TESTING=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target signetd signet signet-signer signet_static >/dev/null
bin=$build/bench/issuance
mkdir -p "$bin"
cflags=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wconversion -Wformat=2 -Wvla
  -Wmissing-prototypes -Wstrict-prototypes)
# shellcheck disable=SC2046
{
  cc "${cflags[@]}" $(pkg-config --cflags p11-kit-1) "$here/p11_ceiling.c" \
    $(pkg-config --libs p11-kit-1 libcrypto) -lpthread -o "$bin/p11_ceiling"
  cc "${cflags[@]}" "$here/hello_mhd.c" $(pkg-config --libs libmicrohttpd) -o "$bin/hello_mhd"
  cc "${cflags[@]}" "$here/assertions.c" $(pkg-config --libs libcrypto) -o "$bin/assertions"
  cc "${cflags[@]}" "$here/fsync_floor.c" -o "$bin/fsync_floor"
  cc "${cflags[@]}" -Iinclude "$here/rot_verify.c" "$build/lib/libsignet.a" \
    $(pkg-config --libs libcrypto jansson libcurl) -lpthread -o "$bin/rot_verify"
}
# People (issue 13): bench/issuance/people.py plays the browser with the
# tests' software authenticator (Python's cryptography package).
python=${BENCH_PYTHON:-python3}
have_people=1
"$python" -c 'import cryptography' 2>/dev/null ||
  { log "$python has no cryptography package: the people rows will be n/a"; have_people=0; }
node_dir=$build/node
if [ ! -f "$node_dir/node_modules/oidc-provider/package.json" ]; then
  log "npm install oidc-provider@9 into $node_dir"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --silent oidc-provider@9 >/dev/null 2>&1 ||
    log "npm install oidc-provider failed: the peer rows will be n/a"
fi
have_peer=0
if [ -f "$node_dir/node_modules/oidc-provider/package.json" ]; then
  cp "$here/oidc_peer.mjs" "$node_dir/" # ESM resolves the package next to the script
  have_peer=1
fi

signet=$build/src/signet
signetd=$build/src/signetd
export SIGNET_SIGNER=$build/src/signet-signer
module=$(for d in /usr/lib/softhsm /usr/lib/x86_64-linux-gnu/softhsm /usr/lib/aarch64-linux-gnu/softhsm; do
  [ -f "$d/libsofthsm2.so" ] && echo "$d/libsofthsm2.so" && break; done)

# State on the disk the service would use (not tmpfs): the audit log's
# fdatasync is part of every token.
work=$(mktemp -d "$build/iss-run.XXXXXX")
chmod 0711 "$work" # as root the state inside is split between signet and signet-signer
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] && log "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 1 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
    sleep 0.05
  done
  log "$1 never answered 200"; return 1
}
rec=$work/records.tsv
: >"$rec"
r() { printf '%s\n' "$(IFS=$'\t'; echo "$*")" >>"$rec"; } # r KIND FIELDS...
# wrk URL SECONDS [env...]: prints the STATS fields
load() {
  local url=$1 s=$2
  shift 2
  env WRK_THREADS=2 CONNS="$conns" "$@" wrk -t2 -c"$conns" -d"${s}s" --timeout 5s -s "$here/load.lua" "$url" |
    awk '$1 == "STATS" {print $2, $3, $4, $5, $6, $7, $8}'
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# signetd's pid is the launcher; the front end is its child named signetd.
front_of() { pgrep -P "$1" -x signetd | head -1; }

# ---- signet state: A (24 h rotation) and B (5 s rotation) -------------------
make_state() { # DIR PORT ROTATION
  local dir=$1 port=$2 rot=$3
  "$signet" init --state "$dir" --issuer "http://127.0.0.1:$port/t/default" >/dev/null
  if [ "$rot" != default ]; then
    sed -i -e "s/^rotation_period = .*/rotation_period = ${rot}s/" -e 's/^jwks_max_age = .*/jwks_max_age = 2s/' \
      -e 's/^clock_skew = .*/clock_skew = 2s/' -e 's/^max_token_lifetime = .*/max_token_lifetime = 60s/' \
      -e 's/^token_lifetime = .*/token_lifetime = 60s/' "$dir/signet.conf"
    printf '[testing]\nallow_short_rotation = true\n' >>"$dir/signet.conf"
  fi
  # One client carries the whole load: lift its rate limit (50/s by default)
  # and the per-address connection limit (32: wrk is one address).
  printf '[server]\nlisten = 127.0.0.1:%s\nthreads = %s\nsigners = %s\nrate_limit = 1000000\nrate_burst = 1000000\nmax_connections_per_address = 4096\ntelemetry_listen = off\n' \
    "$port" "$mhd_threads" "$signers" >>"$dir/signet.conf"
  "$signet" client add --state "$dir" --tenant default --id bench --scope read \
    --audience https://api.example --secret-file "$dir/bench.secret" >/dev/null
}
port_a=$(free_port) port_b=$(free_port) port_h=$(free_port) port_p1=$(free_port) port_p2=$(free_port)
make_state "$work/a" "$port_a" default
"$bin/assertions" keygen "$work/pk.pem" "$work/pk.jwk"
"$bin/assertions" keygen "$work/dpop.pem" "$work/dpop.jwk" # the DPoP client's key
"$signet" client add --state "$work/a" --tenant default --id pk --scope read \
  --audience https://api.example --jwk "$work/pk.jwk" >/dev/null
# People (issue 13): a public client (PKCE, no secret) whose codes the
# authorization_code row exchanges, and one person per ceremony worker plus
# one whose session asks for those codes.
redirect=http://127.0.0.1:9/cb
redirect_form=http%3A%2F%2F127.0.0.1%3A9%2Fcb # form-encoded, in the token request bodies
"$signet" client add --state "$work/a" --tenant default --id web --type public \
  --redirect-uri "$redirect" --grant authorization_code --grant refresh_token --scope read \
  --audience https://api.example >/dev/null
links=()
for i in $(seq 0 "$people_workers"); do
  links+=("$("$signet" user add --state "$work/a" --tenant default --name "p$i" | sed -n 's/^enrolment_link: //p')")
done
basic=$(printf 'bench:%s' "$(cat "$work/a/bench.secret")" | base64 -w0)
url_a=http://127.0.0.1:$port_a/t/default/token
iss_a=http://127.0.0.1:$port_a/t/default # a client assertion's aud (rfc7523bis)

"$signetd" --state "$work/a" 2>"$work/signetd-a.log" &
sd_a=$!
pids+=("$sd_a")
"$bin/hello_mhd" "$port_h" "$mhd_threads" &
pids+=($!)
peer_secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
if [ "$have_peer" = 1 ]; then
  (cd "$node_dir" && NODE_ENV=production exec node oidc_peer.mjs "$port_p1" 1 "$peer_secret") >"$work/peer1.log" 2>&1 &
  pids+=($!)
  (cd "$node_dir" && NODE_ENV=production exec node oidc_peer.mjs "$port_p2" 2 "$peer_secret") >"$work/peer2.log" 2>&1 &
  pids+=($!)
fi
wait_http "http://127.0.0.1:$port_a/readyz"
wait_http "http://127.0.0.1:$port_h/"
people=$here/people.py
auths=$work/passkeys.json # the software authenticators: private keys, sign counters
if [ "$have_people" = 1 ]; then
  "$python" "$people" enrol --base "$iss_a" --auth "$auths" "${links[@]}" ||
    { log "passkey enrolment failed: the people rows will be n/a"; have_people=0; }
fi
peer_basic=$(printf 'bench:%s' "$peer_secret" | base64 -w0)
if [ "$have_peer" = 1 ]; then
  for p in $port_p1 $port_p2; do
    for _ in $(seq 1 100); do
      curl -sf -o /dev/null -u "bench:$peer_secret" -d grant_type=client_credentials "http://127.0.0.1:$p/token" && break
      sleep 0.1
    done
    curl -sf -u "bench:$peer_secret" -d grant_type=client_credentials "http://127.0.0.1:$p/token" |
      grep -q '"access_token":"eyJhbGciOiJFUzI1NiIs' || { log "the peer on $p issues no ES256 JWT"; have_peer=0; }
  done
fi

# dpop_nonce URL: the server's current DPoP nonce (the DPoP-Nonce header of
# the use_dpop_nonce answer to a proof without one).
dpop_nonce() {
  "$bin/assertions" dpop "$work/dpop.pem" "$1" - 1 probe "$work/probe.proof"
  curl -s -o /dev/null -D - -u "bench:$(cat "$work/a/bench.secret")" \
    -H "DPoP: $(cat "$work/probe.proof")" -d grant_type=client_credentials "$1" |
    tr -d '\r' | awk 'tolower($1) == "dpop-nonce:" {print $2}'
}

issued_a=0 # 200s wrk received from signetd A, all runs
count_ok() { issued_a=$((issued_a + $1 - $2)); }

# mint N: N authorization codes of the public client for the session of the
# last person, each with its own PKCE verifier, state and nonce, asked for
# just before the run that exchanges them (single use, 60 s): wrk with
# mint.lua writes one token request body per code to $work/codes and prints
# "requests codes other seconds" (the /authorize rate with a session).
mint() {
  local cookie
  cookie=$("$python" "$people" session --base "$iss_a" --auth "$auths")
  "$python" "$people" authz --base "$iss_a" --n "$1" --client web --redirect "$redirect" \
    --scope "openid read" --out "$work/authz"
  : >"$work/codes"
  : >"$work/mint.done"
  env AUTHZ_FILE="$work/authz" COOKIE="$cookie" CLIENT=web REDIRECT="$redirect_form" \
    OUT_FILE="$work/codes" DONE_FILE="$work/mint.done" WRK_THREADS=2 \
    wrk -t2 -c32 -d50s --timeout 5s -s "$here/mint.lua" "http://127.0.0.1:$port_a/" >"$work/mint.out" 2>"$work/mint.err" &
  local wp=$!
  # wrk runs for its whole -d: stopped (SIGINT: it then reports) once both
  # threads have every answer.
  for _ in $(seq 1 1000); do
    [ "$(wc -l <"$work/mint.done")" -ge 2 ] && break
    sleep 0.05
  done
  kill -INT "$wp" 2>/dev/null || true
  wait "$wp" || true
  awk '$1 == "MINT" {print $2, $3, $4, $5}' "$work/mint.out"
}
# statuses FILE: load.lua's list of non-200 statuses as "code:count,..."
statuses() {
  sed -n 's/^non-200 statuses: //p' "$1" | tr ',' '\n' | grep -v '^$' | sort | uniq -c |
    awk '{printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1}'
}
# ceremonies SECONDS: "ok bad sockerr p50 p99 seconds driver_cpu sign_s statuses"
ceremonies() {
  "$python" "$people" ceremonies --base "$iss_a" --auth "$auths" --workers "$people_workers" \
    --seconds "$1" | awk '$1 == "CEREMONIES" {print $2, $3, $4, $5, $6, $7, $8, $9, $10}'
}

# Warm-up to 10 000 tokens (caches, argon2 once, connections) through every
# request path the runs use (a second each of private_key_jwt and DPoP: their
# parsing and replay-cache writes warm their own allocations), then the 10k
# RSS sample of workload 6.
log "warm-up: 10000 tokens (client_secret_basic, then a second each of private_key_jwt, DPoP, authorization_code and sign-in ceremonies)"
while [ "$issued_a" -lt 6000 ]; do
  read -r n bad _ < <(load "$url_a" 1 BASIC="$basic")
  count_ok "$n" "$bad"
done
"$bin/assertions" make "$work/pk.pem" pk "$iss_a" 12000 warm "$work/bodies"
read -r n bad _ < <(load "$url_a" 1 BODY_FILE="$work/bodies")
count_ok "$n" "$bad"
dpop_nonce "$url_a" >"$work/dpop.nonce"
"$bin/assertions" dpop "$work/dpop.pem" "$url_a" "$(cat "$work/dpop.nonce")" 12000 warm "$work/proofs"
read -r n bad _ < <(load "$url_a" 1 BASIC="$basic" DPOP_FILE="$work/proofs")
count_ok "$n" "$bad"
# A second each of the authorization_code grant and of sign-in ceremonies
# (issue 13); the warm-up's code rate sizes the first repetition's codes.
authcode_est=0
if [ "$have_people" = 1 ]; then
  mint 3000 >/dev/null
  read -r n bad _ < <(load "$url_a" 1 BODY_FILE="$work/codes")
  count_ok "$n" "$bad"
  authcode_est=$((n - bad)) # per second
  ceremonies 1 >/dev/null
fi
while [ "$issued_a" -lt 10000 ]; do
  read -r n bad _ < <(load "$url_a" 1 BASIC="$basic")
  count_ok "$n" "$bad"
done
r mem rss10k "$issued_a" "$(rss_kb "$(front_of "$sd_a")")"

# ---- workload 4: issuance -------------------------------------------------
read -r fs_p50 fs_p99 fs_max < <("$bin/fsync_floor" "$work" $([ "$quick" = 1 ] && echo 100 || echo 300) | awk '{print $3, $5, $7}')
r floor fsync "$fs_p50" "$fs_p99" "$fs_max"
hsm=$work/hsm
mkdir -p "$hsm/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$hsm" >"$hsm/softhsm2.conf"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$hsm/pin"
SOFTHSM2_CONF=$hsm/softhsm2.conf softhsm2-util --init-token --free --label ceiling \
  --so-pin "$(cat "$hsm/pin")" --pin "$(cat "$hsm/pin")" >/dev/null
for rep in $(seq 1 "$reps"); do
  log "workload 4, repetition $rep/$reps"
  ops=$(SOFTHSM2_CONF=$hsm/softhsm2.conf "$bin/p11_ceiling" "$module" ceiling "$hsm/pin" 2 "$secs" 1 | awk '{print $2}')
  r w4 "$rep" hsm "$ops" 0 0 0 0 0
  # One core's raw ES256 verifications per second (OpenSSL): what a DPoP
  # proof costs at least, for the bound of the DPoP row below.
  esv=$(openssl speed -seconds 1 -mr ecdsap256 2>/dev/null | awk -F: '$1 == "+F4" {printf "%.0f", $5}')
  [ -n "$esv" ] && r w4 "$rep" esverify "$esv" 0 0 0 0 0
  read -r n bad se p50 p99 p999 d < <(load "http://127.0.0.1:$port_h/" "$secs" BASIC="$basic")
  r w4 "$rep" http "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$p999"
  read -r n bad se p50 p99 p999 d < <(load "$url_a" "$secs" BASIC="$basic")
  count_ok "$n" "$bad"
  r w4 "$rep" basic "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$p999"
  basic_n=$n
  if [ "$have_people" = 1 ]; then
    # People (issue 13), right after the client_credentials row they are
    # read against. The authorization_code grant: a public client with PKCE
    # exchanging codes minted for a signed-in person just before the run,
    # one body per request. Codes: 2.5 x the last measured rate of this
    # grant (at least 1000), never more than client_credentials managed.
    want_codes=$(awk -v e="$authcode_est" -v s="$secs" -v b="$basic_n" \
      'BEGIN {n = 2.5 * e * s; if (n < 1000) n = 1000; if (n > 1.1 * b + 1000) n = 1.1 * b + 1000; printf "%d", n}')
    read -r _ mcodes mother md < <(mint "$want_codes") ||
      { log "minting codes failed (repetition $rep)"; mcodes=0 mother=1 md=1; }
    r w4 "$rep" authorize "$(echo "$mcodes $md" | awk '{printf "%.0f", $1/$2}')" "$mother" 0 0 0 0 "$mcodes" "$want_codes"
    read -r n bad se p50 p99 p999 d < <(load "$url_a" "$secs" BODY_FILE="$work/codes" 2>"$work/authcode.err")
    count_ok "$n" "$bad"
    authcode_est=$(echo "$n $bad $d" | awk '{printf "%.0f", ($1 - $2) / $3}')
    r w4 "$rep" authcode "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$p999" "$mcodes"
    r people "$rep" authcode "$(statuses "$work/authcode.err")"
    # Sign-in ceremonies, then the driver alone (no server) with as many
    # processes: which of the two bounds the ceremony rate.
    read -r ok bad se p50 p99 d cpu sign st < <(ceremonies "$secs") ||
      { log "the sign-in ceremony driver failed (repetition $rep)"; ok=0 bad=1 se=0 p50=0 p99=0 d=1 cpu=0 sign=0 st=driver-failed; }
    r w4 "$rep" ceremony "$(echo "$ok $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" 0 \
      "$(echo "$cpu $d" | awk '{printf "%.3f", $1/$2}')" "$(echo "$sign $ok" | awk '{printf "%.0f", $2 ? $1/$2*1e6 : 0}')" \
      "$(echo "$cpu $ok" | awk '{printf "%.0f", $2 ? $1/$2*1e6 : 0}')"
    r people "$rep" ceremony "$st"
    read -r an ad < <("$python" "$people" assertions --workers "$people_workers" --seconds "$secs" |
      awk '$1 == "ASSERTIONS" {print $2, $3}') || { log "the driver-alone run failed"; an=0 ad=1; }
    r w4 "$rep" driver "$(echo "$an $ad" | awk '{printf "%.0f", $1/$2}')" 0 0 0 0 0
  fi
  # private_key_jwt: fresh assertions, one per request, made before the run.
  want=$(( $([ "$quick" = 1 ] && echo 12000 || echo 12000) * secs ))
  "$bin/assertions" make "$work/pk.pem" pk "$iss_a" "$want" "r$rep" "$work/bodies"
  read -r n bad se p50 p99 p999 d < <(load "$url_a" "$secs" BODY_FILE="$work/bodies")
  count_ok "$n" "$bad"
  r w4 "$rep" pkjwt "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$p999"
  # DPoP: client_secret_basic plus a fresh proof per request (ES256, own
  # jti), made before the run with the server nonce of the moment (valid
  # 60-120 s: making and running take well under a minute).
  dpop_nonce "$url_a" >"$work/dpop.nonce"
  "$bin/assertions" dpop "$work/dpop.pem" "$url_a" "$(cat "$work/dpop.nonce")" "$want" "d$rep" \
    "$work/proofs"
  read -r n bad se p50 p99 p999 d < <(load "$url_a" "$secs" BASIC="$basic" DPOP_FILE="$work/proofs")
  count_ok "$n" "$bad"
  r w4 "$rep" dpop "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$p999"
  if [ "$have_peer" = 1 ]; then
    for w in 1 2; do
      p=$([ "$w" = 1 ] && echo "$port_p1" || echo "$port_p2")
      read -r n bad se p50 p99 p999 d < <(load "http://127.0.0.1:$p/token" "$secs" BASIC="$peer_basic")
      r w4 "$rep" "peer$w" "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$p999"
    done
  fi
  # Latency at half the target load (the target is 0.5 x the HSM ceiling).
  rate=$(echo "$ops" | awk '{printf "%d", $1 * 0.25}')
  read -r n bad se p50 p99 p999 d < <(load "$url_a" "$secs" BASIC="$basic" RATE="$rate")
  count_ok "$n" "$bad"
  r w4 "$rep" half "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$p999" "$rate"
done

# ---- workload 5: rotation under load ----------------------------------------
rate5=$(awk -F'\t' '$1 == "w4" && $3 == "hsm" {print $4}' "$rec" | sort -n | awk '{a[NR]=$1} END {printf "%d", a[int((NR+1)/2)] * 0.25}')
verify_run() { # URL SECONDS ISSUER JWKS_URL -> "n bad se p50 p99 p999 d | verifier line"
  local fifo=$work/tokens.fifo
  rm -f "$fifo" && mkfifo "$fifo"
  "$bin/rot_verify" "$3" https://api.example "$4" <"$fifo" >"$work/verify.out" 2>&1 &
  local vp=$!
  load "$1" "$2" BASIC="$5" RATE="$rate5" TOKEN_FILE="$fifo" >"$work/load.out" 2>"$work/load.err"
  wait "$vp" || true
  echo "$(cat "$work/load.out") | $(cat "$work/verify.out")"
}
log "workload 5: no-rotation reference, ${norot_secs} s at $rate5/s"
line=$(verify_run "$url_a" "$norot_secs" "http://127.0.0.1:$port_a/t/default" "http://127.0.0.1:$port_a/t/default/jwks.json" "$basic")
read -r n bad se p50 p99 p999 d _ < <(echo "$line")
count_ok "$n" "$bad"
vf=$(echo "$line" | sed 's/.*| //')
r w5 norot "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$vf" "$rate5"

make_state "$work/b" "$port_b" 5
# The keys made by init carry init's 24 h period: hand over to the standby
# now, so every key from here on lives 5 s.
"$signet" rotate --state "$work/b" >/dev/null
"$signetd" --state "$work/b" 2>"$work/signetd-b.log" &
sd_b=$!
pids+=("$sd_b")
wait_http "http://127.0.0.1:$port_b/readyz"
basic_b=$(printf 'bench:%s' "$(cat "$work/b/bench.secret")" | base64 -w0)
curl -sf -o /dev/null -u "bench:$(cat "$work/b/bench.secret")" -d grant_type=client_credentials \
  "http://127.0.0.1:$port_b/t/default/token" # argon2 once, before the clock starts
log "workload 5: rotation every 5 s, ${rot_secs} s at $rate5/s"
line=$(verify_run "http://127.0.0.1:$port_b/t/default/token" "$rot_secs" "http://127.0.0.1:$port_b/t/default" \
  "http://127.0.0.1:$port_b/t/default/jwks.json" "$basic_b")
read -r n bad se p50 p99 p999 d _ < <(echo "$line")
vf=$(echo "$line" | sed 's/.*| //')
kill -TERM "$sd_b" && wait "$sd_b" || true
# Every error of the rotation run is counted and explained: the statuses wrk
# saw (load.lua lists them, a few hundred at most), the front end's sign
# failures by error, and the requests it sent again to another signer.
tally() { sort | uniq -c | awk '{printf "%s%s:%s", (NR > 1 ? "," : ""), $2, $1}'; }
codes5=$(sed -n 's/^non-200 statuses: //p' "$work/load.err" | tr ',' '\n' | grep -v '^$' | tally || true)
why5=$(grep 'comp=signetd event=sign_failed' "$work/signetd-b.log" | sed -n 's/.* error=\([A-Z_]*\).*/\1/p' | tally || true)
retried5=$(grep -c 'comp=signetd event=sign_retried' "$work/signetd-b.log" || true)
trans=$(grep -c 'comp=signetd event=key_transition.*to=ACTIVE' "$work/signetd-b.log" || true)
served_b=$(grep -c 'event=token_issued' "$work/signetd-b.log" || true)
audit_b=$(grep -c -E '"type":"sign"[,}]' "$work/b/signer/audit.log" || true)
verify_b=$("$signet" audit verify --state "$work/b" >/dev/null 2>&1 && echo ok || echo BROKEN)
r w5 rot "$(echo "$n $d" | awk '{printf "%.0f", $1/$2}')" "$bad" "$se" "$p50" "$p99" "$vf" "$rate5" "$trans" "$served_b" "$audit_b" "$verify_b" \
  "${codes5:-none}" "${why5:-none}" "$retried5"
errs5=$((bad + se))
[ "$errs5" -eq 0 ] || log "rotation under load: $errs5 errors (statuses ${codes5:-none}; sign failures ${why5:-none}); signetd log kept as $out/rotation-signetd.log"

# ---- workload 6: memory --------------------------------------------------------
log "workload 6: up to $mem_tokens tokens (cap ${mem_cap} s)"
deadline=$(( $(date +%s) + mem_cap ))
while [ "$issued_a" -lt "$mem_tokens" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  read -r n bad _ < <(load "$url_a" 2 BASIC="$basic")
  count_ok "$n" "$bad"
done
sleep 0.5
r mem rssN "$issued_a" "$(rss_kb "$(front_of "$sd_a")")"
sig_rss=$(for p in $(pgrep -P "$sd_a" -x signet-signer); do rss_kb "$p"; done | sort -n | tail -1)
r mem signer "$sig_rss"

# ---- audit: every token is in the log, durable, chained ------------------------
kill -TERM "$sd_a" && wait "$sd_a" || true
audit_a=$(grep -c -E '"type":"sign"[,}]' "$work/a/signer/audit.log" || true)
verify_a=$("$signet" audit verify --state "$work/a" >/dev/null 2>&1 && echo ok || echo BROKEN)
# Tokens signetd issued (its token_issued log lines): wrk drops the answers
# still in flight when a run ends, so it receives fewer than were issued.
# An authorization_code answer carries an ID token too (id_token=1): a
# second signature, a second sign record.
served_a=$(grep -c 'event=token_issued' "$work/signetd-a.log" || true)
idt_a=$(grep 'event=token_issued' "$work/signetd-a.log" | grep -c ' id_token=1' || true)
codes_a=$(grep 'event=token_issued' "$work/signetd-a.log" | grep -c ' grant=authorization_code' || true)
r audit a "$served_a" "$audit_a" "$verify_a" "$issued_a" "$idt_a" "$codes_a"
# The front end's own time per request (its access log's us=, whole run):
# where a request of each people row spends its time on the server side.
awk '/event=http / {
    m = p = cl = ""; u = 0
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^method=/) m = substr($i, 8)
      else if ($i ~ /^path=/) p = substr($i, 6)
      else if ($i ~ /^us=/) u = substr($i, 4)
      else if ($i ~ /^client=/) cl = substr($i, 8)
    }
    k = ""
    if (p ~ /\/token$/ && cl == "bench") k = "token_basic"
    else if (p ~ /\/token$/ && cl == "web") k = "token_authcode"
    else if (p ~ /\/authorize$/) k = "authorize"
    else if (p ~ /\/webauthn\/options$/) k = "options"
    else if (p ~ /\/signin$/ && m == "POST") k = "signin"
    if (k != "") { n[k]++; s[k] += u }
  }
  END { for (k in n) printf "srv\t%s\t%d\t%.0f\n", k, n[k], s[k] / n[k] }' "$work/signetd-a.log" >>"$rec"

# ---- report ----------------------------------------------------------------------
mkdir -p "$out"
r meta secs "$secs" reps "$reps" conns "$conns" threads "$mhd_threads" signers "$signers" quick "$quick" \
  people_workers "$people_workers"
r meta versions "$(node -p "require('$node_dir/node_modules/oidc-provider/package.json').version" 2>/dev/null || echo -)" \
  "$(node --version 2>/dev/null || echo -)" "$(wrk --version 2>&1 | head -1 | awk '{print $2}')" \
  "$(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo -)" "$(pkg-config --modversion libmicrohttpd)"
r meta machine "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(git rev-parse --short HEAD 2>/dev/null || echo -)" \
  "$(( $(date +%s) - start_s ))"
cp "$rec" "$out/issuance.tsv"
python3 "$here/report.py" "$rec" >"$out/issuance.md"
log "done in $(( $(date +%s) - start_s )) s: $out/issuance.md"
sed -n '/^## Targets/,$p' "$out/issuance.md" >&2
# Rotation must never fail a request: one error fails the run (after the
# report is written), with the front end's log of that run kept beside it.
if [ "${errs5:-0}" -gt 0 ]; then
  grep -E 'level=(warn|error)' "$work/signetd-b.log" >"$out/rotation-signetd.log" || true
  log "FAIL: rotation under load: $errs5 errors (statuses ${codes5:-none}; sign failures ${why5:-none})"
  exit 1
fi
