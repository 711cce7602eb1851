-- Commit one person's state transition: compare-and-set the state, append its adherence entries and set the
-- person's entry in their partition's due set, all at once, so state, log and timer never disagree.
--
-- KEYS[1] the person's state, a string `<version>|<document>`
-- KEYS[2] the person's adherence log, oldest first: a string of entries each ended by a newline (a list of entries
--         in data written before: appended to as a list)
-- KEYS[3] the due set of the person's partition (sorted set: member userId, score = epoch ms next due)
-- KEYS[4] the publishing hash of the person's partition (field userId, value the id of a nudge this commit records
--         as published before it is: cleared by the sweep once the publish is confirmed)
-- ARGV[1] expected version (0 = absent)
-- ARGV[2] new document, or '' to leave the document (and its version) as it is and only set the due entry
-- ARGV[3] log length kept, in entries (a string log keeps ARGV[3] × 100 bytes, cut at an entry's end)
-- ARGV[4] due: epoch ms, 'none' (remove the entry) or 'keep' (leave it)
-- ARGV[5] the due set member (userId), also the publishing hash's field
-- ARGV[6] the nudge id to mark as publishing, or '' for none
-- ARGV[7..] adherence entries as JSON
-- Returns the version now stored, or -1 when the version moved since the caller read it (re-read and retry).
local v = 0
local cur = redis.call('GET', KEYS[1])
if cur then v = tonumber(string.match(cur, '^(%d+)|')) end
if v ~= tonumber(ARGV[1]) then return -1 end
if ARGV[2] ~= '' then
  v = v + 1
  redis.call('SET', KEYS[1], v .. '|' .. ARGV[2])
end
if #ARGV >= 7 then
  local kind = redis.call('TYPE', KEYS[2]).ok
  if kind == 'list' then
    local n = redis.call('RPUSH', KEYS[2], unpack(ARGV, 7))
    if n > tonumber(ARGV[3]) then redis.call('LTRIM', KEYS[2], n - tonumber(ARGV[3]), -1) end
  else
    local entries = table.concat(ARGV, '\n', 7) .. '\n'
    local len = #entries
    -- SET for a person's first entries: APPEND would reserve as much again for growth.
    if kind == 'none' then redis.call('SET', KEYS[2], entries)
    else len = redis.call('APPEND', KEYS[2], entries) end
    local max = tonumber(ARGV[3]) * 100
    if len > max then
      -- Keep the newest 90 % (so that this copy is rare), from the first entry that starts inside them.
      local kept = redis.call('GETRANGE', KEYS[2], len - math.floor(max * 0.9), -1)
      local nl = string.find(kept, '\n', 1, true)
      redis.call('SET', KEYS[2], string.sub(kept, nl + 1))
    end
  end
end
if ARGV[4] == 'none' then
  redis.call('ZREM', KEYS[3], ARGV[5])
elseif ARGV[4] ~= 'keep' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[4], ARGV[5], ARGV[6]) end
return v
