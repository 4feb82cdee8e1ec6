-- Writes from many people (wrk -s writes.lua URL -- LINES THREADS METHOD [BODY]): each line of
-- LINES is "token path"; every thread takes its share of the lines and sends the next one each
-- time, round and round (a line per log to delete makes each DELETE hit a log of its own).
local share = require("scripts.bench.share")
setup = share.setup

function init(args)
  mine = {}
  for _, line in ipairs(share.lines(args[1], tonumber(args[2]))) do
    local token, path = line:match("^(%S+)%s+(%S+)$")
    mine[#mine + 1] = { token, path }
  end
  method = args[3]
  body = args[4]
  k = 0
end

function request()
  local line = mine[(k % #mine) + 1]
  k = k + 1
  local headers = { ["Authorization"] = "Bearer " .. line[1] }
  if body then
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, line[2], headers, body)
end
