-- wrk script for the token endpoint (and the peers), set by environment:
--   BODY_FILE   one complete form body per line, each used once (private_key_jwt:
--               every assertion has its own jti); threads take disjoint lines
--   BASIC       base64(client_id:secret) for client_secret_basic (static body)
--   DPOP_FILE   one DPoP proof per line, each used once as the DPoP header (a
--               fresh proof per request, as a client makes them; with BASIC);
--               threads take disjoint lines
--   RATE        total requests per second to pace at (open-ish loop: each
--               connection waits CONNS/RATE s between requests); unset = as fast
--               as possible
--   CONNS       connection count (for RATE)
--   TOKEN_FILE  append every SAMPLE-th access token to this file (a FIFO read
--               by rot_verify)
--   SAMPLE      1 = every token (default)
-- done() prints one line:
--   STATS requests non200 sockerr p50_us p99_us p999_us seconds
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local bodies = nil
local nbodies = 0
local next_body = 1
local proofs = nil
local nproofs = 0
local next_proof = 1
local pace = nil
local token_out = nil
local sample = tonumber(os.getenv("SAMPLE") or "1")
local seen = 0
non200 = 0
codes = ""

function init(args)
  local body_file = os.getenv("BODY_FILE")
  local nthr = tonumber(os.getenv("WRK_THREADS") or "1")
  if body_file then
    bodies = {}
    local i = 0
    for line in io.lines(body_file) do
      if i % nthr == id then
        nbodies = nbodies + 1
        bodies[nbodies] = line
      end
      i = i + 1
    end
  end
  local dpop_file = os.getenv("DPOP_FILE")
  if dpop_file then
    proofs = {}
    local i = 0
    for line in io.lines(dpop_file) do
      if i % nthr == id then
        nproofs = nproofs + 1
        proofs[nproofs] = line
      end
      i = i + 1
    end
  end
  local rate = tonumber(os.getenv("RATE") or "0")
  if rate > 0 then
    pace = tonumber(os.getenv("CONNS") or "64") / rate * 1000
  end
  local tf = os.getenv("TOKEN_FILE")
  if tf then
    token_out = io.open(tf, "a")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  local basic = os.getenv("BASIC")
  if basic then
    wrk.headers["Authorization"] = "Basic " .. basic
  end
  wrk.body = "grant_type=client_credentials"
end

function request()
  if proofs then
    -- more requests than proofs: an invalid proof, counted as non-200
    wrk.headers["DPoP"] = proofs[next_proof] or "exhausted"
    next_proof = next_proof + 1
  end
  if bodies then
    local b = bodies[next_body]
    if b == nil then
      b = "exhausted" -- more requests than assertions: counted as non-200
    end
    next_body = next_body + 1
    return wrk.format(nil, nil, nil, b)
  end
  return wrk.format()
end

if os.getenv("RATE") then
  function delay()
    return pace
  end
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if #codes < 200 then
      codes = codes .. status .. ","
    end
    return
  end
  if token_out then
    seen = seen + 1
    if seen % sample == 0 then
      local tok = string.match(body, '"access_token":"([^"]+)"')
      if tok then
        token_out:write(tok, "\n")
        token_out:flush()
      end
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  local seen_codes = ""
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non200") or 0)
    seen_codes = seen_codes .. (t:get("codes") or "")
  end
  if bad > 0 then
    io.stderr:write("non-200 statuses: " .. seen_codes .. "\n")
  end
  local e = summary.errors
  io.write(string.format("STATS %d %d %d %d %d %d %.3f\n", summary.requests, bad,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), summary.duration / 1e6))
end
