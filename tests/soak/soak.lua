-- wrk script of the soak (tests/soak/soak.py): a fixed mix of djapp requests, and a
-- clean end. wrk's own -d abandons the requests in flight when it stops (their
-- responses then go to a closed socket, and the server sees a request that never
-- completed); here each thread, which has exactly one connection (-c = -t), stops
-- itself right after a response once the deadline has passed, so nothing is in flight
-- when soak.py interrupts wrk.
--
--   wrk -t N -c N -d <long> -s soak.lua http://127.0.0.1:PORT -- DEADLINE_UNIX_S

local paths = { "/items/", "/item/3/", "/nplus1/", "/noquery/", "/item/99/" }
local deadline = nil
local n = 0
stopped = false  -- read by done() through thread:get()

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   deadline = tonumber(args[1])
   n = math.random(#paths)
end

function request()
   n = n + 1
   return wrk.format("GET", paths[(n % #paths) + 1])
end

function response(status, headers, body)
   if not stopped and os.time() >= deadline then
      stopped = true
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local clean = 0
   for _, t in ipairs(threads) do
      if t:get("stopped") then
         clean = clean + 1
      end
   end
   io.write(string.format("soak-wrk: threads stopped cleanly %d/%d\n", clean, #threads))
   io.write(string.format("soak-wrk: requests %d, duration_us %d, errors connect %d read %d write %d status %d timeout %d\n",
                          summary.requests, summary.duration, summary.errors.connect,
                          summary.errors.read, summary.errors.write, summary.errors.status,
                          summary.errors.timeout))
end
