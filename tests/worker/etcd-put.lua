-- etcd-put.lua — wrk script for bench-cluster's etcd baseline: every
-- request writes a new key with a value of MIN..MAX random bytes.
-- Arguments (after wrk's "--"): API RUN MIN MAX
--   API  v2: PUT /v2/keys/bench/RUN-THREAD-N, form body value=<alphanumeric>
--        v3: POST /v3/kv/put (JSON gateway), base64 key and value
--   RUN  a small number that keeps keys unique across wrk runs (< 256)
-- Values are slices of a random pool made once per thread, so building a
-- request costs little CPU (wrk shares the machine with etcd).

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

local threads = 0
local api, run, min_size, max_size
local pool, n = nil, 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

-- A string of @len characters drawn from @alphabet.
local function random_text(alphabet, len)
  local chars = {}
  for i = 1, len do
    local k = math.random(#alphabet)
    chars[i] = alphabet:sub(k, k)
  end
  return table.concat(chars)
end

function init(args)
  api = args[1] or "v2"
  run = tonumber(args[2] or "0")
  min_size = tonumber(args[3] or "100")
  max_size = tonumber(args[4] or "100")
  math.randomseed(1000 * run + (thread_id or 0))
  -- base64 needs 4 characters per 3 value bytes
  pool = random_text(api == "v3" and B64 or ALNUM, 2 * max_size + 8)
end

-- @id as 8 base64 digits: valid base64 of a unique 6-byte key suffix.
local function base64_digits(id)
  local digits = {}
  for i = 8, 1, -1 do
    local d = id % 64
    digits[i] = B64:sub(d + 1, d + 1)
    id = (id - d) / 64
  end
  return table.concat(digits)
end

function request()
  n = n + 1
  local size = math.random(min_size, max_size)
  if api == "v3" then
    local len = 4 * math.ceil(size / 3)
    local off = math.random(0, #pool - len)
    off = off - off % 4
    -- "YmVuY2gv" is base64 of "bench/"
    local key = "YmVuY2gv" .. base64_digits(run * 2^40 + (thread_id or 0) * 2^32 + n)
    local body = '{"key":"' .. key .. '","value":"' .. pool:sub(off + 1, off + len) .. '"}'
    return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, body)
  end
  local off = math.random(0, #pool - size)
  local path = string.format("/v2/keys/bench/%d-%d-%d", run, thread_id or 0, n)
  return wrk.format("PUT", path, { ["Content-Type"] = "application/x-www-form-urlencoded" },
                    "value=" .. pool:sub(off + 1, off + size))
end
