-- API credits shared by replicas: per credential, one hash per minute
-- ({tag}:cr:<minute>; field "t" = the credential's total, "r:<route>" = a
-- route's), expiring a day after its minute.
-- KEYS[1..n]   the minute hashes this call touches
-- ARGV[1]      ttl ms   ARGV[2] number of deltas d
-- ARGV[3 ..]   d triples: key index, field, credits (may be negative)
-- then         the key indexes whose hashes to return
-- Returns one flat HGETALL array per requested key, in order.
local ttl = tonumber(ARGV[1])
local d = tonumber(ARGV[2])
for i = 0, d - 1 do
  local k = KEYS[tonumber(ARGV[3 + 3 * i])]
  redis.call('HINCRBY', k, ARGV[4 + 3 * i], ARGV[5 + 3 * i])
  redis.call('PEXPIRE', k, ttl)
end
local out = {}
for i = 3 + 3 * d, #ARGV do
  out[#out + 1] = redis.call('HGETALL', KEYS[tonumber(ARGV[i])])
end
return out
