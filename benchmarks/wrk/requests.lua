-- wrk script: replay pre-generated requests, so that every request differs.
--
--   wrk -t2 -c16 -d10s -s requests.lua http://127.0.0.1:8000 -- /path/to/requests
--
-- Thread i reads "/path/to/requests.i": one request a line, tab-separated
--   METHOD <TAB> PATH <TAB> AUTHORIZATION <TAB> BODY
-- (AUTHORIZATION and BODY may be empty; a BODY is sent as application/json). Requests are
-- formatted once in init() and replayed in order, wrapping around at the end of the file.
-- done() prints one line "BENCH_JSON {...}" that the Python side parses.

local next_thread = 0

function setup(thread)
   thread:set("thread_index", next_thread)
   next_thread = next_thread + 1
end

local requests = {}
local count = 0
local position = 0

local function split_tabs(line)
   local fields = {}
   for field in (line .. "\t"):gmatch("([^\t]*)\t") do
      fields[#fields + 1] = field
   end
   return fields
end

local function add_request(f)
   local headers = { ["Host"] = wrk.headers["Host"] }
   if f[3] ~= nil and f[3] ~= "" then
      headers["Authorization"] = f[3]
   end
   local body = nil
   if f[4] ~= nil and f[4] ~= "" then
      body = f[4]
      headers["Content-Type"] = "application/json"
   end
   count = count + 1
   requests[count] = wrk.format(f[1], f[2], headers, body)
end

function init(args)
   local path = args[1] .. "." .. thread_index
   for line in io.lines(path) do
      if line ~= "" then
         add_request(split_tabs(line))
      end
   end
   if count == 0 then
      error("no requests in " .. path)
   end
end

function request()
   position = position + 1
   if position > count then
      position = 1
   end
   return requests[position]
end

function done(summary, latency, _requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
      '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean))
end
