-- Stores a token only if its generation is higher than any seen before.
-- KEYS[1] token hash, KEYS[2] highest generation ever written (no expiry, so
-- a stale writer is refused even after the token itself expired).
-- ARGV[1] generation, ARGV[2] blob, ARGV[3] expiry (ms since epoch),
-- ARGV[4] channel.
-- Returns 1 if written (and the generation, never the blob, published), else 0.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local gen = tonumber(ARGV[1])
local top = tonumber(redis.call('GET', KEYS[2]) or '0')
if gen <= top then
  return 0
end
local exp = tonumber(ARGV[3])
if exp <= now then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'gen', ARGV[1], 'blob', ARGV[2], 'exp', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], 'tok:' .. ARGV[1])
return 1
