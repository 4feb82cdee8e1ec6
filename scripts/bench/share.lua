-- What the wrk scripts share (`local share = require("scripts.bench.share")`, wrk run from
-- the repository's root): each thread takes its own share of a file's lines, thread i of N
-- the lines i, i + N, i + 2N…, so no two threads send the same line.
local share = {}
local threads = 0

-- wrk's `setup`: numbers the threads (`index` in each thread).
function share.setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

-- This thread's lines of the file at `path`, with `step` threads in all.
function share.lines(path, step)
  local all = {}
  for line in io.lines(path) do
    all[#all + 1] = line
  end
  local mine = {}
  for i = index + 1, #all, step do
    mine[#mine + 1] = all[i]
  end
  return mine
end

return share
