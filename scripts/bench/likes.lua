-- POST and DELETE /posts/{id}/like on one post from many people (wrk ... -- TOKENS THREADS):
-- each request is by the next token of this thread's share, and every pass over them flips
-- like <-> unlike, so every request changes the count (a token's previous request finished
-- thousands of requests earlier).
local share = require("scripts.bench.share")
setup = share.setup

function init(args)
  mine = share.lines(args[1], tonumber(args[2]))
  k = 0
end

function request()
  local token = mine[(k % #mine) + 1]
  local method = (math.floor(k / #mine) % 2 == 0) and "POST" or "DELETE"
  k = k + 1
  return wrk.format(method, nil, { ["Authorization"] = "Bearer " .. token })
end
