-- POST /auth/refresh from many sessions (wrk -s refresh.lua URL -- TOKENS THREADS): each line
-- of TOKENS is a session's refresh token; every thread takes its share and presents each
-- token once, the next time with the token the answer rotated it to (a token presented twice
-- would revoke its session). A thread needs more tokens than connections: wrk calls
-- request() once before the run to check the script, and that token is never sent.
local threads = 0

function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

function init(args)
  local all = {}
  for line in io.lines(args[1]) do
    all[#all + 1] = line
  end
  queue = {}
  for i = index + 1, #all, tonumber(args[2]) do
    queue[#queue + 1] = all[i]
  end
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
