-- Creates a login request with its QR as SVG, as the sign-in page does on every load:
--   wrk -t2 -c50 -d10s -s examples/wrk/create_with_svg.lua http://127.0.0.1:8098/api/login-requests
-- (against an instance started with RATE_LIMIT_CREATE_PER_IP=1000000/1s: wrk is one address).
wrk.method = "POST"
wrk.body = '{"qr_svg": true}'
wrk.headers["Content-Type"] = "application/json"

local failed = 0

response = function(status, headers, body)
  if status ~= 201 then failed = failed + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("answers other than 201: %d\n", failed))
end
