-- Compare-and-delete: drops the token only if it is still generation ARGV[1].
-- KEYS[1] token hash.  ARGV[1] generation, ARGV[2] channel.
-- Returns 1 if deleted (and announced), 0 otherwise.
if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'inv:' .. ARGV[1])
  return 1
end
return 0
