-- wrk script: POST /findings/ with a fresh finding_key per request. The same body as the anchor's
-- ../shared/anchors/post_findings.lua, but it keeps the headers given with -H (the bearer token
-- secplat needs; the anchor ignores it), copied once rather than per request.
counter = 0
local headers = nil
request = function()
  counter = counter + 1
  local body = string.format('{"finding_key":"k-%d-%d","title":"Missing CSP header","asset_key":"asset-00001","severity":"medium"}', math.random(1,1000000000), counter)
  if headers == nil then
    headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers["Content-Type"] = "application/json"
  end
  return wrk.format("POST", "/findings/", headers, body)
end
