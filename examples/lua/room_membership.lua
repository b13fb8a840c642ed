-- Room membership checked by the Laravel backend once, then cached for 60 seconds.
--
-- Enable it with, at the top level of the config:
--   "lua": {"script": "lua/room_membership.lua"}   (relative to the config file's folder)
-- together with the backend's subscribe endpoint, which lucent.proxy("subscribe", ...) calls:
--   "channel": {"proxy": {"subscribe": {"endpoint": "http://127.0.0.1:8080/centrifugo/subscribe",
--                                       "http_headers": ["Cookie"]}}}
-- (Centrifugo's subscribe proxy protocol), or Laravel's own /broadcasting/auth with
-- "protocol": "laravel_auth" added (routes/channels.php decides; examples/laravel/README.md).
-- The `chat` namespace itself needs no subscribe_proxy_enabled: this rule asks the backend.
--
-- Why: a chat client resubscribes to its rooms on every reconnect. With a plain subscribe
-- proxy each of those is an HTTP request to PHP; here a user's answer for a room is asked once
-- and reused for a minute by every later subscribe on this worker.

local rules = require "lucent.rules"
local r = rules.new()

local TTL = 60 -- seconds an answer is reused

-- Whether the backend let the client in. lucent.proxy answers with the backend's reply: a
-- table holding `result` (allowed, with the result fields), `error` (refused, or the request
-- failed: error 100) or `disconnect`. A hook may return that reply as it is.
local function allowed(reply)
    return type(reply) == "table" and reply.result ~= nil
end

r:subscribe("chat:room-{room}", function(ctx, room)
    -- Anonymous connections are never members; answering here saves the backend a request.
    if ctx.user == "" then
        return false
    end

    -- One entry per user and room. The cache belongs to this worker (each worker thread has
    -- its own VM), so with N workers the backend may be asked up to N times a minute.
    local key = "room:" .. room .. ":" .. ctx.user
    local cached = lucent.cache.get(key)
    if cached ~= nil then
        return cached
    end

    -- Ask the backend exactly as the subscribe proxy would (same request, same headers). The
    -- hook runs as a coroutine: this line waits for the answer without blocking the server,
    -- other connections carry on meanwhile.
    local reply = lucent.proxy("subscribe", ctx)

    -- Only "allowed" is kept: a refusal is asked again next time, so a user just added to the
    -- room gets in at once and a backend that was briefly down is not remembered as a "no".
    -- The price: a user removed from the room keeps access for up to TTL seconds (existing
    -- subscriptions are not touched either way; unsubscribe them through the server API).
    if allowed(reply) then
        lucent.cache.set(key, reply, TTL)
    end
    return reply
end)

return r:hooks()
