-- wrk script: every request asks for one of N hosts, picked at random, and
-- one response in SAMPLE_EVERY is checked: the routed value the server
-- echoes in X-Routed must belong to the host the request named (echoed back
-- in the response by `Header echo ^Host$`).  A fast wrong answer must not
-- win, so the driver fails the run when a sampled response is wrong.
--
-- Arguments after `--`: N  port  expected-prefix|-  [path]
--   host i is "h<i>.bench.test:<port>"; X-Routed must be "<prefix><i>",
--   or exactly "-" when the prefix is "-" (the no-routing ceiling).
-- At the end one line is printed: BENCH {json}.

local SAMPLE_EVERY = 16
local threads = {}
local thread_id = 0

function setup(thread)
   thread_id = thread_id + 1
   thread:set("id", thread_id)
   table.insert(threads, thread)
end

-- Per-thread state; checked, wrong and example are globals so that done()
-- can read them with thread:get().
local n, prefix, requests
local seen = 0
checked, wrong, example = 0, 0, ""

function init(args)
   n = tonumber(args[1])
   local port = args[2]
   prefix = args[3]
   local path = args[4] or "/ok.txt"
   math.randomseed(os.time() * 1000 + id)
   -- Building every request once keeps the per-request cost a table index.
   requests = {}
   for i = 1, n do
      requests[i] = wrk.format("GET", path,
                               { Host = "h" .. i .. ".bench.test:" .. port })
   end
end

function request()
   return requests[math.random(n)]
end

local function expected_for(host)
   if prefix == "-" then
      return "-"
   end
   local i = host and host:match("^h(%d+)%.bench%.test:%d+$")
   return i and (prefix .. i)
end

function response(status, headers, body)
   seen = seen + 1
   if seen % SAMPLE_EVERY ~= 0 then
      return
   end
   checked = checked + 1
   local host = headers["Host"]
   local got = headers["X-Routed"]
   local want = expected_for(host)
   if status ~= 200 or want == nil or got ~= want then
      wrong = wrong + 1
      if example == "" then
         example = string.format("status %d Host %s X-Routed %s want %s",
                                 status, tostring(host), tostring(got),
                                 tostring(want))
      end
   end
end

local function json_string(s)
   return '"' .. s:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
   end) .. '"'
end

function done(summary, latency, _)
   local total_checked, total_wrong, first = 0, 0, ""
   for _, t in ipairs(threads) do
      total_checked = total_checked + t:get("checked")
      total_wrong = total_wrong + t:get("wrong")
      if first == "" then
         first = t:get("example")
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"errors": %d, "non_2xx": %d, "checked": %d, "wrong": %d, '
      .. '"example": %s}\n',
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99),
      e.connect + e.read + e.write + e.timeout, e.status,
      total_checked, total_wrong, json_string(first)))
end
