-- Hooks for tests/integration/exclusion.test.js: leaving clients and users out of a fan-out
-- from Lua (a broadcast hook's pub.exclude_client / pub.exclude_user, Laravel's toOthers()
-- through lucent.laravel, a client publish that skips its sender).

local rules = require "lucent.rules"
local laravel = require "lucent.laravel"
local r = rules.new()

-- hx:*: the payload says whom to leave out (skip_client: one id or a list; skip_user: one
-- user id or a list); the keys are removed before fan-out.
r:broadcast("hx:*", function(ctx, pub)
    local d = pub.data
    if type(d) ~= "table" then
        return pub
    end
    if d.skip_client ~= nil then
        pub.exclude_client = d.skip_client
        d.skip_client = nil
    end
    if d.skip_user ~= nil then
        pub.exclude_user = d.skip_user
        d.skip_user = nil
    end
    return pub
end)

-- Every other channel: Laravel's toOthers(), the sender's client id in `socket`.
r:broadcast("*", function(ctx, pub)
    return laravel.to_others(pub)
end)

-- A client publication with not_me = true is not sent back to its sender.
r:publish("chat:*", function(ctx, pub)
    if type(pub.data) == "table" and pub.data.not_me then
        pub.data.not_me = nil
        pub.exclude_client = ctx.client
    end
    return pub
end)

return r:hooks()
