-- Sliding-window mint budget: at most ARGV[1] mints in any ARGV[2] ms.
-- KEYS[1] ZSET of mint times (score: Redis time ms).  ARGV[3] unique member.
-- A mint at m counts while now < m + window.
-- Returns {1, 0} when charged, {0, wait_ms} when the budget is spent.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then
  return {0, math.max(1, tonumber(first[2]) + window - now)}
end
return {0, window}
