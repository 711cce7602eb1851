-- Claim the people of one partition whose due time has come, for one sweep batch.
-- Claims whose lease lapsed (their worker died mid-batch) go back to the due set first, due at once.
--
-- KEYS[1] the partition's due set (member userId, score = epoch ms due)
-- KEYS[2] the partition's claims (member userId, score = epoch ms the lease lapses)
-- ARGV[1] now (epoch ms), ARGV[2] most people to claim, ARGV[3] lease length (ms)
-- Returns { next, userId, dueAt, userId, dueAt, ... }: each claimed person with the due time they were claimed at
-- (so that a sweep over many partitions handles the longest-waiting first), and `next`, when the partition next
-- needs a sweep (the earliest due time left or lease end of another sweep's claim, epoch ms, as a string; '' when
-- there is none), so that a sweep of every partition learns where the next tick goes without another round trip. (The people claimed here are the caller's
-- to release; if it dies holding them, the sweep-all safety net sees their lease lapse.)
-- A person claimed by another sweep whose lease still runs is left alone.
local now = tonumber(ARGV[1])
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, m in ipairs(lapsed) do
  -- LT: a due time the person's last commit set earlier than the lease's end stays.
  redis.call('ZADD', KEYS[1], 'LT', redis.call('ZSCORE', KEYS[2], m), m)
  redis.call('ZREM', KEYS[2], m)
end
-- The earliest lease held by someone else (before this call's own claims: the caller releases those itself).
local next_lease = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = { '' }
local lease_end = now + tonumber(ARGV[3])
for i = 1, #due, 2 do
  local m = due[i]
  if not redis.call('ZSCORE', KEYS[2], m) then
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZADD', KEYS[2], lease_end, m)
    out[#out + 1] = m
    out[#out + 1] = due[i + 1]
  end
end
local next_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
if next_due and next_lease then
  out[1] = (tonumber(next_due) < tonumber(next_lease)) and next_due or next_lease
else
  out[1] = next_due or next_lease or ''
end
return out
