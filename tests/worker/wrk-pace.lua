-- wrk-pace.lua — paces wrk for bench-cluster: each connection waits about
-- DELAY milliseconds (the first script argument, default 2; fractions are
-- met on average, since wrk's timer counts whole milliseconds) before each
-- request, so C connections ask for at most C × 1000 / DELAY requests per
-- second. Issue 5's target is a rate (5,000 requests/s) served while writes
-- go on; an unpaced wrk would take every spare cycle of the machine.
local delay_ms = 2
local owed = 0

function init(args)
  delay_ms = tonumber(args[1] or "2")
end

function delay()
  owed = owed + delay_ms
  local whole = math.floor(owed)
  owed = owed - whole
  return whole
end
