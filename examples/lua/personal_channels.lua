-- Personal channels: `user:42` is readable by user 42 only.
--
-- Enable it with, at the top level of the config:
--   "lua": {"script": "lua/personal_channels.lua"}   (relative to the config file's folder)
--
-- The server API publishes to a user's channel (notifications, "your order shipped"); clients
-- only read it. A rule here replaces what a `"user:$user"` channel rule or a subscription token
-- would otherwise say for these channels; every other channel keeps the standard path.

local rules = require "lucent.rules"
local r = rules.new()

-- {id} captures the part after `user:` up to the next '.' or ':' — `user:42` gives id "42".
-- ctx.user is the id of the connected user ("" for an anonymous connection), a string like id,
-- so a plain comparison is enough. Returning false answers the client with error 103
-- (permission denied); true subscribes it.
r:subscribe("user:{id}", function(ctx, id)
    return ctx.user == id
end)

-- Sub-channels of a user (`user:42:inbox`, `user:42.settings`): the same owner check. Routes are
-- tried in order and {id} never spans a '.' or ':', so `user:42:inbox` does not match the rule
-- above and falls to this one.
r:subscribe("user:{id}:*", function(ctx, id)
    return ctx.user == id
end)
r:subscribe("user:{id}.*", function(ctx, id)
    return ctx.user == id
end)

-- Nobody publishes into a personal channel from a client, not even its owner: that is the
-- backend's job (server API publishes go through the broadcast hook, not this one). `user:*`
-- covers `user:42` and all its sub-channels.
r:publish("user:*", function(ctx, pub)
    return false
end)

return r:hooks()
