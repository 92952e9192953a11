-- wrk script of bench/http_load.py: POSTs GraphQL requests read from a file, one a line,
-- "<access token>\t<JSON body>", in turn (each thread starting at its own line), and
-- counts answers that carry "errors" or a non-empty "userErrors". At the end it prints
-- one line, "RESULT {json}", with the counts and latency percentiles (microseconds).
--
--   wrk -t1 -c16 -d10s --latency -s wrk_graphql.lua http://host:port/graphql -- FILE

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  for line in io.lines(args[1]) do
    local tab = string.find(line, "\t", 1, true)
    local token = string.sub(line, 1, tab - 1)
    local body = string.sub(line, tab + 1)
    local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
    }
    table.insert(requests, wrk.format("POST", nil, headers, body))
  end
  position = (id * 7) % #requests
  failed = 0
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  if status ~= 200
    or string.find(body, '"errors"', 1, true)
    or string.find(body, '"userErrors":[{', 1, true) then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local failures = 0
  for _, thread in ipairs(threads) do
    failures = failures + thread:get("failed")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"failed_answers":%d,'
      .. '"socket_errors":%d,"non_2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%d}\n',
    summary.requests, summary.duration, failures,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
