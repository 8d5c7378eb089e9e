-- Extends a lease in every pool it holds.
-- KEYS: the lease's pool ZSETs.  ARGV[1] lease id, ARGV[2] ttl ms.
-- Returns 1 if the lease was still live in every pool (all renewed), 0 if it
-- had expired or been reclaimed in at least one (those entries are removed;
-- the live ones are still renewed).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = ARGV[1]
local ttl = tonumber(ARGV[2])
local all = 1
for i = 1, #KEYS do
  local s = redis.call('ZSCORE', KEYS[i], lease)
  if s and tonumber(s) > now then
    redis.call('ZADD', KEYS[i], 'XX', string.format('%.0f', now + ttl), lease)
    if redis.call('PTTL', KEYS[i]) < 2 * ttl then
      redis.call('PEXPIRE', KEYS[i], 2 * ttl)
    end
  else
    if s then redis.call('ZREM', KEYS[i], lease) end
    all = 0
  end
end
return all
