-- POST and DELETE /posts/{id}/like on one post from many people (wrk ... -- TOKENS THREADS):
-- each request is by the next token of this thread's share, and every pass over them flips
-- like <-> unlike, so every request changes the count (a token's previous request finished
-- thousands of requests earlier).
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
  mine = {}
  for i = index + 1, #all, tonumber(args[2]) do
    mine[#mine + 1] = all[i]
  end
  k = 0
end

function request()
  local token = mine[(k % #mine) + 1]
  local method = (math.floor(k / #mine) % 2 == 0) and "POST" or "DELETE"
  k = k + 1
  return wrk.format(method, nil, { ["Authorization"] = "Bearer " .. token })
end
