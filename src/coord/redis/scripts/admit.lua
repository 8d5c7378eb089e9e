-- A batch of one credential's releases and admissions, in one call. The
-- result is exactly that of releasing first, then admitting each request in
-- turn, each admission all or nothing (cool-down, concurrency pools, GCRA
-- rates), on Redis time; only the writes are grouped (one ZADD, PEXPIRE and
-- SET per key at the end).
--
-- KEYS[1]        the cool-down key (its PTTL is the remaining pause)
-- KEYS[2 ..]     the GCRA keys (value: theoretical arrival time, ms) and pool
--                ZSETs (member: lease id, score: expiry ms) the batch names
-- ARGV[1]        the batch, one MessagePack array (decoded in C: no number
--                is parsed from text):
--   cap of a pool's wait hint (ms), number of releases, number of admissions,
--   per release:   lease id, number of pools p, p key indexes (into KEYS),
--   per admission: cost, lease id, lease ttl ms, ng, np,
--                  ng x (key index, emission interval ms, tolerance ms),
--                  np x (key index, limit)
-- Returns {reclaimed, then per admission: 1, now | 0, wait ms}, where
-- `reclaimed` counts the expired leases removed from the pools (their holders
-- died or stalled) and nothing is written for an admission that must wait.
local A = cmsgpack.unpack(ARGV[1])
local cap = A[1]
local nr = A[2]
local na = A[3]
local a = 4

local gone = {}
for _ = 1, nr do
  local id = A[a]
  local p = A[a + 1]
  for j = 1, p do
    local k = A[a + 1 + j]
    local members = gone[k]
    if not members then
      members = {}
      gone[k] = members
    end
    members[#members + 1] = id
  end
  a = a + 2 + p
end
for k, members in pairs(gone) do
  redis.call('ZREM', KEYS[k], unpack(members))
end
if na == 0 then
  return {0}
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {0}

local cool = redis.call('PTTL', KEYS[1])
if cool > 0 then
  for _ = 1, na do
    out[#out + 1] = 0
    out[#out + 1] = cool
  end
  return out
end

local held = {}    -- pool key index -> members, this batch's grants included
local first = {}   -- pool key index -> lowest score among this batch's grants
local added = {}   -- pool key index -> {score, id, score, id, ...} to ZADD
local expiry = {}  -- pool key index -> ttl of its last grant
local tats = {}    -- GCRA key index -> theoretical arrival time
local moved = {}   -- GCRA key indexes advanced by this batch
local reclaimed = 0
local scores = {}   -- lease ttl -> its expiry score, as text

for _ = 1, na do
  local cost = A[a]
  local lease = A[a + 1]
  local ttl = A[a + 2]
  local ng = A[a + 3]
  local np = A[a + 4]
  local g0 = a + 5
  local p0 = g0 + 3 * ng
  a = p0 + 2 * np

  local wait = 0
  for j = 0, np - 1 do
    local k = A[p0 + 2 * j]
    local limit = A[p0 + 2 * j + 1]
    -- Expired leases are only swept when they would make the pool look
    -- full: the common case costs one ZCARD per pool and batch, and a pool
    -- never holds more than `limit` expired members.
    local h = held[k] or redis.call('ZCARD', KEYS[k])
    if h >= limit then
      local swept = redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now)
      reclaimed = reclaimed + swept
      h = h - swept
    end
    held[k] = h
    if h >= limit then
      local w = cap
      local lowest = first[k]
      local oldest = redis.call('ZRANGE', KEYS[k], 0, 0, 'WITHSCORES')
      if oldest[2] and (not lowest or tonumber(oldest[2]) < lowest) then
        lowest = tonumber(oldest[2])
      end
      if lowest then
        w = math.max(1, math.min(cap, lowest - now))
      end
      if w > wait then wait = w end
    end
  end

  for j = 0, ng - 1 do
    local k = A[g0 + 3 * j]
    local emission = A[g0 + 3 * j + 1]
    local tolerance = A[g0 + 3 * j + 2]
    local tat = tats[k]
    if not tat then
      tat = tonumber(redis.call('GET', KEYS[k]) or now)
      tats[k] = tat
    end
    if tat < now then tat = now end
    local allow_at = tat + emission * cost - tolerance
    if now < allow_at and allow_at - now > wait then
      wait = allow_at - now
    end
  end

  if wait > 0 then
    out[#out + 1] = 0
    out[#out + 1] = wait
  else
    for j = 0, ng - 1 do
      local k = A[g0 + 3 * j]
      local tat = tats[k]
      if tat < now then tat = now end
      tats[k] = tat + A[g0 + 3 * j + 1] * cost
      moved[k] = true
    end
    local score = now + ttl
    local text = scores[ttl]
    if not text then
      text = string.format('%.0f', score)
      scores[ttl] = text
    end
    for j = 0, np - 1 do
      local k = A[p0 + 2 * j]
      held[k] = held[k] + 1
      if not first[k] or score < first[k] then first[k] = score end
      local list = added[k]
      if not list then
        list = {}
        added[k] = list
      end
      list[#list + 1] = text
      list[#list + 1] = lease
      expiry[k] = ttl
    end
    out[#out + 1] = 1
    out[#out + 1] = now
  end
end

for k in pairs(moved) do
  local tat = tats[k]
  redis.call('SET', KEYS[k], string.format('%.0f', tat), 'PX',
    string.format('%.0f', tat - now))
end
for k, list in pairs(added) do
  redis.call('ZADD', KEYS[k], unpack(list))
  -- The key outlives its newest lease by one more ttl, so that an admission
  -- sees (and counts) leases that expired unreleased; then it is garbage.
  redis.call('PEXPIRE', KEYS[k], 2 * expiry[k])
end
out[1] = reclaimed
return out
