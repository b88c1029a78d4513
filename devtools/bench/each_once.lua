-- wrk script for `manage.py bench`'s varied section (devtools/bench/varied.py).
--
-- Requests every line of a file exactly once: each line is "<path>\t<Cookie header>".
-- Arguments after wrk's "--": the file and the number of wrk threads. The lines are dealt
-- out to the threads in turn.
--
-- A connection with nothing left to send asks for /healthz/ (a filler: its plain-text
-- answers are not counted) rather than waiting: gunicorn's sync workers close the
-- connection after each answer and wrk opens a new one at once, and a worker that accepts
-- a connection on which nothing comes blocks until its timeout (60 s), with real
-- requests queued behind it. For the same reason a thread never stops itself (wrk would
-- leave its open connections idle): each thread writes "each-once: done" to stderr once
-- every request of its share is answered, and the bench stops wrk (SIGINT) when all
-- have. done() prints the one line the bench reads: answered, failed (any status but
-- 200), the seconds from the first request sent to the last answer (CLOCK_MONOTONIC),
-- and the p50/p99 latency in ms (fillers included).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } kcdir_timespec;
int clock_gettime(int clock, kcdir_timespec *now);
]])
local timespec = ffi.new("kcdir_timespec")

local function now()
   ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
   return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) / 1e9
end

local threads = {}
local count = 0

function setup(thread)
   thread:set("id", count)
   count = count + 1
   table.insert(threads, thread)
end

function init(args)
   local file, total = args[1], tonumber(args[2])
   mine = {}
   local index = 0
   for line in io.lines(file) do
      if index % total == id then
         local path, cookie = line:match("^([^\t]+)\t(.*)$")
         table.insert(mine, wrk.format("GET", path, { Cookie = cookie }))
      end
      index = index + 1
   end
   filler = wrk.format("GET", "/healthz/")
   sent, answered, failed = 0, 0, 0
   started, finished = 0, 0
   -- wrk calls the first thread's request() once before the run, to check what it
   -- returns: that call must not use up a line.
   checked = id ~= 0
end

function request()
   if not checked then
      checked = true
      return filler
   end
   if sent >= #mine then
      return filler
   end
   if sent == 0 then
      started = now()
   end
   sent = sent + 1
   return mine[sent]
end

function response(status, headers, body)
   local kind = headers["Content-Type"] or ""
   if kind:sub(1, 10) == "text/plain" then
      return
   end
   answered = answered + 1
   if status ~= 200 then
      failed = failed + 1
   end
   if answered == #mine then
      finished = now()
      io.stderr:write("each-once: done\n")
      io.stderr:flush()
   end
end

function done(summary, latency, requests)
   local answered, failed, started, finished = 0, 0, math.huge, 0
   for _, thread in ipairs(threads) do
      answered = answered + thread:get("answered")
      failed = failed + thread:get("failed")
      local first, last = thread:get("started"), thread:get("finished")
      if first > 0 then
         started = math.min(started, first)
      end
      finished = math.max(finished, last)
   end
   local seconds = summary.duration / 1e6
   if finished > 0 and started < math.huge then
      seconds = finished - started
   end
   io.write(string.format(
      "each-once: answered=%d failed=%d seconds=%.3f p50=%.1f p99=%.1f\n",
      answered, failed, seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000
   ))
end
