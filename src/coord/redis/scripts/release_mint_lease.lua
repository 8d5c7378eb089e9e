-- Compare-and-delete of the mint lease by owner.
-- KEYS[1] mint lease key.  ARGV[1] owner.  Returns 1 if it was ours.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
