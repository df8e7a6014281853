-- wrk-pace.lua — paces wrk for bench-cluster: each connection waits DELAY
-- milliseconds (the first script argument, default 2) before each request,
-- so C connections ask for at most C × 1000 / DELAY requests per second.
-- Issue 5's target is a rate (5,000 requests/s) served while writes go on;
-- an unpaced wrk would take every spare cycle of the machine instead.
local delay_ms = 2

function init(args)
  delay_ms = tonumber(args[1] or "2")
end

function delay()
  return delay_ms
end
