-- Transform chat messages before fan-out: cap the text at 2000 characters and stamp each
-- message with the user who sent it.
--
-- Enable it with, at the top level of the config:
--   "lua": {"script": "lua/transform.lua"}   (relative to the config file's folder)
-- and let clients publish in the `chat` namespace:
--   "channel": {"namespaces": [{"name": "chat", "allow_publish_for_subscriber": true,
--                               "allow_subscribe_for_client": true}]}
--
-- A client publishes {"text": "..."} into `chat:room-1`; every subscriber receives
-- {"text": "...(at most 2000 characters)", "user": "42"}. What a publish hook returns replaces
-- the publication for history and for every subscriber, so nobody can spoof `user` either:
-- whatever the client put there is overwritten.

local rules = require "lucent.rules"
local r = rules.new()

local MAX_CHARS = 2000

-- The first n characters of a UTF-8 string. string.sub counts bytes: cutting "é" (two bytes)
-- in the middle would leave invalid UTF-8, which the JSON encoder refuses. A string of at most
-- n bytes has at most n characters and is returned as it is (the common case, no scan).
local function utf8_prefix(s, n)
    if #s <= n then
        return s
    end
    local i, count = 1, 0
    while count < n and i <= #s do
        local b = s:byte(i)
        -- The lead byte says how long the character is: 0xxxxxxx 1, 110xxxxx 2, 1110xxxx 3,
        -- 11110xxx 4 bytes.
        if b < 0x80 then
            i = i + 1
        elseif b < 0xE0 then
            i = i + 2
        elseif b < 0xF0 then
            i = i + 3
        else
            i = i + 4
        end
        count = count + 1
    end
    return s:sub(1, i - 1)
end

-- Every room: `chat:room-1`, `chat:room-lobby`. pub is {channel = ..., data = <the decoded
-- JSON the client sent>}; ctx says who sent it (ctx.user, ctx.client, ctx.info).
r:publish("chat:room-{room}", function(ctx, pub, room)
    local data = pub.data
    -- Refuse what is not a chat message rather than forwarding it: error 107 "bad request"
    -- goes back to the publishing client only.
    if type(data) ~= "table" or type(data.text) ~= "string" then
        return lucent.error(107, "bad request")
    end
    if data.text == "" then
        return lucent.error(107, "bad request")
    end
    data.text = utf8_prefix(data.text, MAX_CHARS)
    -- ctx.user is "" for an anonymous connection (a namespace may allow those to publish).
    data.user = ctx.user
    -- Returning the changed pub is the decision "allowed, with this data". Returning true
    -- would allow the publication unchanged; nil would leave it to the namespace options.
    return pub
end)

return r:hooks()
