-- Pauses a credential: keeps whichever cool-down ends later, then announces
-- the end time on the credential's channel.
-- KEYS[1] cool-down key.  ARGV[1] pause ms, ARGV[2] channel.
-- Returns the end of the pause (Redis time, ms).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[1])
local cur = redis.call('PTTL', KEYS[1])
local till = now + ms
if cur < ms then
  redis.call('SET', KEYS[1], string.format('%.0f', till), 'PX', ms)
else
  till = now + cur
end
redis.call('PUBLISH', ARGV[2], 'cool:' .. string.format('%.0f', till))
return till
