-- POST /auth/refresh from many sessions (wrk -s refresh.lua URL -- TOKENS THREADS): each line
-- of TOKENS is a session's refresh token; every thread takes its share and presents each
-- token once, the next time with the token the answer rotated it to (a token presented twice
-- would revoke its session). A thread needs more tokens than connections: wrk calls
-- request() once before the run to check the script, and that token is never sent.
local share = require("scripts.bench.share")
setup = share.setup

function init(args)
  queue = share.lines(args[1], tonumber(args[2]))
  first, last = 1, #queue
end

function request()
  local token = queue[first] or "spent"
  queue[first] = nil
  first = first + 1
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then
    last = last + 1
    queue[last] = token
  end
end
