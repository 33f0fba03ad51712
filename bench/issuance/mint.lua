-- wrk script: authorization codes for the authorization_code row, minted
-- just before it runs (a code is single use and lives 60 s). Set by
-- environment:
--   AUTHZ_FILE  "path<TAB>state<TAB>verifier" per line (bench/issuance/people.py
--               authz): one authorization request each, its own PKCE pair;
--               threads take disjoint lines
--   COOKIE      the signed-in person's session cookie (name=value)
--   CLIENT      client_id, REDIRECT its redirect_uri (form-encoded in the body)
--   OUT_FILE    appended: one token request body per code, with the code's
--               own verifier (the BODY_FILE of load.lua)
--   DONE_FILE   appended: one line per thread that has every answer it will
--               get (wrk itself runs for its whole -d: run.sh stops it with
--               SIGINT once every thread is in this file)
--   WRK_THREADS thread count
-- done() prints
--   MINT requests codes other_statuses seconds
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

local paths = {}
local verifier = {}
local npaths = 0
local next_path = 1
local answered = 0
local out = nil
local tail = ""
local verified = false
local last_answer = 0
local finished = false
codes = 0
other = 0
statuses = ""

function init(args)
  local nthr = tonumber(os.getenv("WRK_THREADS") or "1")
  local i = 0
  for line in io.lines(os.getenv("AUTHZ_FILE")) do
    if i % nthr == id then
      local path, state, v = string.match(line, "^([^\t]+)\t([^\t]+)\t([^\t]+)$")
      npaths = npaths + 1
      paths[npaths] = path
      verifier[state] = v
    end
    i = i + 1
  end
  out = io.open(os.getenv("OUT_FILE"), "a")
  out:setvbuf("line") -- whole lines, one append each: the threads share the file
  tail = "&redirect_uri=" .. os.getenv("REDIRECT") .. "&client_id=" .. os.getenv("CLIENT")
  wrk.method = "GET"
  wrk.headers["Cookie"] = os.getenv("COOKIE")
  -- wrk calls thread 0's request() once to check it, and never sends that one
  verified = id ~= 0
  last_answer = os.time()
end

function finish()
  if not finished then
    finished = true
    local f = io.open(os.getenv("DONE_FILE"), "a")
    f:write(id, "\n")
    f:close()
    wrk.thread:stop()
  end
end

function request()
  if not verified then
    verified = true
    return wrk.format(nil, "/readyz")
  end
  local p = paths[next_path]
  if p == nil then
    -- every line sent: something harmless, slowly, until the last answers
    -- are in (or none came for 3 s: a socket error lost one)
    if os.time() - last_answer >= 3 then
      finish()
    end
    return wrk.format(nil, "/readyz")
  end
  next_path = next_path + 1
  return wrk.format(nil, p)
end

function delay()
  return paths[next_path] == nil and 20 or 0
end

function response(status, headers, body)
  local loc = headers["Location"] or headers["location"]
  if loc == nil and status == 200 then
    return -- a /readyz answer
  end
  answered = answered + 1
  last_answer = os.time()
  local code = loc and string.match(loc, "[?&]code=([^&]+)")
  local state = loc and string.match(loc, "[?&]state=([^&]+)")
  if status == 302 and code and state and verifier[state] then
    -- a code and a verifier are base64url: nothing to escape
    out:write("grant_type=authorization_code&code=", code, "&code_verifier=", verifier[state],
      tail, "\n")
    verifier[state] = nil
    codes = codes + 1
  else
    other = other + 1
    if #statuses < 200 then
      statuses = statuses .. status .. ","
    end
  end
  if answered >= npaths then
    finish()
  end
end

function done(summary, latency, requests)
  local c, o, s = 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + (t:get("codes") or 0)
    o = o + (t:get("other") or 0)
    s = s .. (t:get("statuses") or "")
  end
  if o > 0 then
    io.stderr:write("authorize statuses other than 302 with a code: " .. s .. "\n")
  end
  io.write(string.format("MINT %d %d %d %.3f\n", summary.requests, c, o, summary.duration / 1e6))
end
