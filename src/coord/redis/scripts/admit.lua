-- Admission: cool-down, concurrency pools and GCRA rates, all or nothing.
--
-- KEYS[1]                    cool-down key (its PTTL is the remaining pause)
-- KEYS[2 .. 1+ng]            GCRA keys (value: theoretical arrival time, ms)
-- KEYS[2+ng .. 1+ng+np]      pool ZSETs (member: lease id, score: expiry ms)
-- ARGV[1] cost   ARGV[2] lease id   ARGV[3] lease ttl ms
-- ARGV[4] ng     ARGV[5] np         ARGV[6] cap of a pool's wait hint, ms
-- ARGV[7 ..]     per GCRA key: emission interval ms, tolerance ms
--                then per pool: its limit
-- Returns {1, now, reclaimed} when granted (everything written), {0, wait_ms,
-- reclaimed} otherwise (nothing else written), where `reclaimed` counts the
-- expired leases removed from the pools (their holders died or stalled).
-- Time is Redis TIME in integer milliseconds.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[1])
local lease = ARGV[2]
local ttl = tonumber(ARGV[3])
local ng = tonumber(ARGV[4])
local np = tonumber(ARGV[5])
local cap = tonumber(ARGV[6])

local cool = redis.call('PTTL', KEYS[1])
if cool > 0 then
  return {0, cool, 0}
end

local wait = 0
local reclaimed = 0
for i = 1, np do
  local key = KEYS[1 + ng + i]
  local limit = tonumber(ARGV[6 + 2 * ng + i])
  -- Expired leases are only swept when they would make the pool look full:
  -- the common case costs one ZCARD, and a pool never holds more than
  -- `limit` expired members.
  local held = redis.call('ZCARD', key)
  if held >= limit then
    local swept = redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    reclaimed = reclaimed + swept
    held = held - swept
  end
  if held >= limit then
    local w = cap
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] then
      w = math.max(1, math.min(cap, tonumber(first[2]) - now))
    end
    if w > wait then wait = w end
  end
end

local tats = {}
for i = 1, ng do
  local emission = tonumber(ARGV[5 + 2 * i])
  local tolerance = tonumber(ARGV[6 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[1 + i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + emission * cost
  local allow_at = new_tat - tolerance
  if now < allow_at then
    if allow_at - now > wait then wait = allow_at - now end
  end
  tats[i] = new_tat
end

if wait > 0 then
  return {0, wait, reclaimed}
end

for i = 1, ng do
  redis.call('SET', KEYS[1 + i], string.format('%.0f', tats[i]), 'PX',
    string.format('%.0f', tats[i] - now))
end
for i = 1, np do
  local key = KEYS[1 + ng + i]
  redis.call('ZADD', key, string.format('%.0f', now + ttl), lease)
  -- The key outlives its newest lease (this one: every lease of a pool has
  -- the same ttl) by one more ttl, so that an admission sees (and counts)
  -- leases that expired unreleased; then it is garbage.
  redis.call('PEXPIRE', key, 2 * ttl)
end
return {1, now, reclaimed}
