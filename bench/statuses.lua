-- wrk script: counts the answers that are not 200, by status and the
-- proxy's x-zoho-proxy-error code, across wrk's threads.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    counts = {}
    first = {}
end

function response(status, headers, body)
    if status ~= 200 then
        local key = status .. " " .. (headers["x-zoho-proxy-error"] or "(from Zoho)")
        counts[key] = (counts[key] or 0) + 1
        if not first[key] then
            first[key] = string.sub(body or "", 1, 300)
        end
    end
end

function done(summary, latency, requests)
    local total, example, any = {}, {}, false
    for _, t in ipairs(threads) do
        local firsts = t:get("first")
        for k, v in pairs(t:get("counts")) do
            total[k] = (total[k] or 0) + v
            example[k] = example[k] or firsts[k]
            any = true
        end
    end
    if not any then
        io.write("   every answer was 200\n")
    end
    for k, v in pairs(total) do
        io.write(string.format("   answers %s: %d, e.g. %s\n", k, v, example[k]))
    end
end
