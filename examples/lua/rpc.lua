-- RPC methods answered in Lua, without a round trip to the backend.
--
-- Enable it with, at the top level of the config:
--   "lua": {"script": "lua/rpc.lua"}   (relative to the config file's folder)
--
-- A client calls centrifuge.rpc("time", {}) (centrifuge-js) and receives what the hook returns
-- in `data`. A method no rule matches has no opinion (nil) from this script: the standard
-- path answers it (the rpc proxy, when the method's namespace has one).

local rules = require "lucent.rules"
local r = rules.new()

-- The simplest method: no input, a computed answer. An RPC answer is a table of result fields
-- whose `data` is sent to the client as the call's result.
r:rpc("time", function(ctx, data)
    return {data = {now = lucent.now()}}
end)

-- Who am I? Answers from what the connection carries: the user id and the connection info
-- given at connect (token `info` claim or the connect proxy's `info`).
r:rpc("whoami", function(ctx, data)
    return {data = {user = ctx.user, client = ctx.client, transport = ctx.transport,
                    info = ctx.info}}
end)

-- Input validation: `data` is the decoded JSON params of the call. lucent.error(code, message)
-- answers the call with that error (107 is the protocol's "bad request"; 400-1999 are free
-- for an application's own codes).
r:rpc("sum", function(ctx, data)
    if type(data) ~= "table" or type(data.numbers) ~= "table" then
        return lucent.error(107, "bad request")
    end
    local total = 0
    for _, n in ipairs(data.numbers) do
        if type(n) ~= "number" then
            return lucent.error(1400, "numbers only")
        end
        total = total + n
    end
    return {data = {sum = total}}
end)

-- Method names take {params} like channel routes: `typing.1` gives room "1" ({room} stops at
-- '.' and ':', so the method names the room by its short id, not by its channel name).
-- The method publishes a small event into `chat:room-1` as the server API would (it reaches
-- every subscriber, on every worker; skip_history keeps it out of the room's history) and
-- answers the caller with an empty result. Any signed-in user may call it for any room; a
-- real app would check membership first (see room_membership.lua).
r:rpc("typing.{room}", function(ctx, data, room)
    if ctx.user == "" then
        return lucent.error(103, "permission denied")
    end
    lucent.publish("chat:room-" .. room, {typing = ctx.user}, {skip_history = true})
    return {data = {}}
end)

return r:hooks()
