-- wrk script: POST /findings/ with a fresh finding_key per request, for secplat and the anchor alike.
-- The body is the one of the anchor's ../shared/anchors/post_findings.lua, with two changes:
-- * each wrk thread puts its own number in the key. Every thread's LuaJIT math.random starts from the
--   same seed, so with the anchor's script and -t2 every key was posted twice (by both threads) and
--   half of the "fresh" posts were updates;
-- * it keeps the headers given with -H (the bearer token secplat needs; the anchor ignores it), copied
--   once rather than per request.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

counter = 0
local headers = nil
request = function()
  counter = counter + 1
  local body = string.format('{"finding_key":"k-%d-%d-%d","title":"Missing CSP header","asset_key":"asset-00001","severity":"medium"}',
                             thread_no or 0, math.random(1,1000000000), counter)
  if headers == nil then
    headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers["Content-Type"] = "application/json"
  end
  return wrk.format("POST", "/findings/", headers, body)
end
