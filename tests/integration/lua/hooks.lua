-- Hooks for tests/integration/lua.test.js: at least one route per hook kind, each answering
-- from what the test sends so one script serves the whole file. The test writes this file
-- next to the server's config with __BACKEND__ replaced by the Node backend's base URL.

local rules = require "lucent.rules"
local r = rules.new()

local BACKEND = "__BACKEND__"

local function trim(s)
    return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function now()
    return math.floor(lucent.now())
end

-- connect: without a token, ctx.data says what to answer; a token has the standard path
-- decide (nil).
r:connect(function(ctx)
    if type(ctx.token) == "string" and ctx.token ~= "" then
        -- ctx.claims holds a verified token's claims: a hook may decide from them
        if ctx.claims and ctx.claims.sub == "claims-check" then
            return {user = "claims:" .. ctx.claims.sub}
        end
        return nil
    end
    local d = ctx.data
    if type(d) ~= "table" then
        return nil
    end
    if d.deny then
        return false
    end
    if d.error then
        return lucent.error(1400, "lua says no")
    end
    if d.disconnect then
        return lucent.disconnect(4501, "lua says bye")
    end
    if type(d.user) == "string" then
        local result = {
            user = d.user,
            channels = {"srv-" .. d.user},
            info = {name = "lua-" .. d.user},
            data = {welcome = d.user, transport = ctx.transport},
            meta = {tenant = "t-" .. d.user},
        }
        if type(d.ttl) == "number" then
            result.expire_at = now() + d.ttl
        end
        return result
    end
    return nil
end)

-- refresh: prolong by ten minutes; user "norefresh" is refused.
r:refresh(function(ctx)
    if ctx.user == "norefresh" then
        return false
    end
    return {expire_at = now() + 600}
end)

-- subscribe
r:subscribe("user:{id}", function(ctx, id)
    return ctx.user == id
end)

-- Room membership asked from the backend through the subscribe proxy, cached 60 s (only the
-- allowed answers, as examples/lua/room_membership.lua does).
r:subscribe("room:{room}", function(ctx, room)
    local key = "room:" .. room .. ":" .. ctx.user
    local cached = lucent.cache.get(key)
    if cached ~= nil then
        return cached
    end
    local reply = lucent.proxy("subscribe", ctx)
    if type(reply) == "table" and reply.result ~= nil then
        lucent.cache.set(key, reply, 60)
    end
    return reply
end)

r:subscribe("exp:{id}", function(ctx, id)
    return {expire_at = now() + 30, info = {sub = "exp"}, data = {granted = id}}
end)
r:subscribe("locked:open", function(ctx)
    return true
end)
r:subscribe("subx:*", function(ctx)
    return lucent.error(1401, "lua refuses")
end)
r:subscribe("subd:*", function(ctx)
    return lucent.disconnect(4502, "lua closes")
end)

-- sub_refresh: prolong exp:* subscriptions by fifteen minutes.
r:sub_refresh("exp:{id}", function(ctx, id)
    return {expire_at = now() + 900}
end)

-- unsubscribe: tell the watch channel (its own unsubscriptions are not reported).
r:unsubscribe("*", function(ctx)
    if ctx.channel:sub(1, 6) ~= "watch:" then
        lucent.publish("watch:events", {event = "unsubscribe", client = ctx.client,
                                        user = ctx.user, channel = ctx.channel})
    end
end)

-- disconnect: tell the watch channel and the backend (the second waits for an HTTP answer).
r:disconnect(function(ctx)
    if ctx.user:sub(1, 5) ~= "gone-" then
        return
    end
    lucent.publish("watch:events", {event = "disconnect", client = ctx.client, user = ctx.user,
                                    code = ctx.code})
    lucent.http.request {
        method = "POST",
        url = BACKEND .. "/gone",
        headers = {["Content-Type"] = "application/json"},
        body = lucent.json.encode({client = ctx.client, user = ctx.user}),
        timeout = 2,
    }
end)

-- publish: chat messages trimmed and stamped with the sender; locked:* refused; hist:* may
-- skip history.
r:publish("chat:{room}", function(ctx, pub, room)
    if type(pub.data) ~= "table" or type(pub.data.text) ~= "string" then
        return lucent.error(107, "bad request")
    end
    pub.data.text = trim(pub.data.text)
    pub.data.user = ctx.user
    pub.data.room = room
    return pub
end)
r:publish("locked:*", function(ctx, pub)
    return false
end)
r:publish("hist:*", function(ctx, pub)
    pub.skip_history = type(pub.data) == "table" and pub.data.skip == true
    return pub
end)

-- broadcast (server API publish / broadcast)
r:broadcast("bc:{kind}", function(ctx, pub, kind)
    pub.data.kind = kind
    pub.data.from_api = ctx.client == ""
    return pub
end)
r:broadcast("bcdeny:*", function(ctx, pub)
    return false
end)
r:broadcast("bcerr:*", function(ctx, pub)
    return lucent.error(1402, "broadcast refused")
end)

-- rpc
r:rpc("sum", function(ctx, data)
    if type(data) ~= "table" or type(data.numbers) ~= "table" then
        return lucent.error(107, "bad request")
    end
    local total = 0
    for _, n in ipairs(data.numbers) do
        total = total + n
    end
    return {data = {sum = total}}
end)
r:rpc("whoami", function(ctx, data)
    return {data = {user = ctx.user, client = ctx.client, transport = ctx.transport,
                    info = ctx.info, meta = ctx.meta}}
end)
r:rpc("fail", function(ctx, data)
    return lucent.error(1400, "rpc refused")
end)
r:rpc("deny", function(ctx, data)
    return false
end)
r:rpc("bye", function(ctx, data)
    return lucent.disconnect(4503, "rpc says bye")
end)
r:rpc("nil", function(ctx, data)
    return nil
end)
r:rpc("http", function(ctx, data)
    local res, err = lucent.http.request {
        method = "POST",
        url = BACKEND .. (data.path or "/echo"),
        headers = {["Content-Type"] = "application/json", ["X-Lua"] = "yes"},
        body = lucent.json.encode({user = ctx.user, n = data.n}),
        timeout = 5,
    }
    if res == nil then
        return lucent.error(1500, "http: " .. tostring(err))
    end
    return {data = {status = res.status, body = lucent.json.decode(res.body)}}
end)
-- A request that fails (nobody listening, or too slow): however the failure is reported
-- (nil and a message, a status of 0, an error raised), the hook reports failed = true.
r:rpc("http.fail", function(ctx, data)
    local ok, res = pcall(lucent.http.request, {
        method = "GET",
        url = data.url,
        timeout = 0.5,
    })
    local failed = not ok or res == nil or type(res) ~= "table" or res.status == nil or
                       res.status == 0 or res.status >= 500
    return {data = {failed = failed}}
end)
r:rpc("publish", function(ctx, data)
    lucent.publish(data.channel, {from = ctx.user, n = data.n}, {skip_history = true})
    return {data = {}}
end)
r:rpc("cache.set", function(ctx, data)
    lucent.cache.set(data.key, data.value, data.ttl)
    return {data = {}}
end)
r:rpc("cache.get", function(ctx, data)
    local v = lucent.cache.get(data.key)
    return {data = {value = v, found = v ~= nil}}
end)
-- lucent.jwt.decode verifies a connection token with the configured key: claims, or nil and
-- a message.
r:rpc("jwt", function(ctx, data)
    local claims, err = lucent.jwt.decode(data.token)
    if claims == nil then
        return {data = {err = err}}
    end
    return {data = {sub = claims.sub, info = claims.info}}
end)
r:rpc("now", function(ctx, data)
    return {data = {now = lucent.now()}}
end)
r:rpc("json", function(ctx, data)
    local v = lucent.json.decode(data.text)
    return {data = {back = lucent.json.encode(v), kind = type(v)}}
end)
r:rpc("log", function(ctx, data)
    lucent.log("info", data.marker)
    return {data = {}}
end)

return r:hooks()
