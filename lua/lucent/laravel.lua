-- lucent.laravel: helpers for scripts that sit next to a Laravel app.
--
--   local laravel = require "lucent.laravel"
--   laravel.to_laravel("$orders.1")       --> "private-orders.1"
--   laravel.to_lucent("private-orders.1") --> "$orders.1"
--   laravel.strip_prefix("private-orders.1") --> "orders.1" (the name routes/channels.php sees)
--   r:broadcast("*", function(ctx, pub) return laravel.to_others(pub) end)

local type, sub = type, string.sub

local laravel = {}

local PRIVATE, PRESENCE = "private-", "presence-"

local function starts_with(s, prefix)
    return sub(s, 1, #prefix) == prefix
end

--- The Laravel name of a Lucent channel, as the server's laravel_auth bridge sends it to
--- /broadcasting/auth: `$orders.1` -> `private-orders.1`, `$presence-x` -> `presence-x`, a name
--- already in Laravel form (`private-…`, `presence-…`) as it is, any other `x` -> `private-x`.
--- nil and a message for an empty name or a lone `$`.
function laravel.to_laravel(channel)
    if type(channel) ~= "string" or channel == "" then
        return nil, "lucent.laravel: no channel name"
    end
    local name = channel
    if sub(name, 1, 1) == "$" then
        -- `$` is Lucent's private prefix: Laravel's private- (presence- is named already).
        name = sub(name, 2)
        if name == "" then
            return nil, "lucent.laravel: no channel name after '$'"
        end
        if starts_with(name, PRESENCE) then
            return name
        end
    elseif starts_with(name, PRESENCE) or starts_with(name, PRIVATE) then
        return name
    end
    return PRIVATE .. name
end

--- The Lucent channel of a Laravel name, as Laravel's Centrifugo broadcasters publish it:
--- `private-orders.1` -> `$orders.1`; `presence-…` and public names stay as they are.
--- nil and a message for an empty name.
function laravel.to_lucent(name)
    if type(name) ~= "string" or name == "" then
        return nil, "lucent.laravel: no channel name"
    end
    if starts_with(name, PRIVATE) then
        return "$" .. sub(name, #PRIVATE + 1)
    end
    return name
end

-- Laravel's broadcaster prefixes, in the order its normalizeChannelName tries them.
local PREFIXES = {"private-encrypted-", PRIVATE, PRESENCE}

--- What Laravel's normalizeChannelName does: the name without its private-encrypted-,
--- private- or presence- prefix (the first one found), i.e. the name that is matched against
--- the routes of routes/channels.php. Other names are returned as they are.
function laravel.strip_prefix(name)
    if type(name) ~= "string" then
        return name
    end
    for i = 1, #PREFIXES do
        if starts_with(name, PREFIXES[i]) then
            return sub(name, #PREFIXES[i] + 1)
        end
    end
    return name
end

--- Laravel's toOthers(): the broadcaster puts the sender's socket id (the X-Socket-ID header,
--- i.e. the client id of the sender's Lucent connection) into the payload as `socket`.
--- to_others takes pub.data[field or "socket"], removes it from the payload and leaves that
--- client out of the fan-out (pub.exclude_client; a client already excluded stays excluded,
--- the two then form a list). A missing, null or empty socket only removes the key. Returns
--- pub, so a broadcast hook can end with `return laravel.to_others(pub)`.
function laravel.to_others(pub, field)
    if type(pub) ~= "table" or type(pub.data) ~= "table" then
        return pub
    end
    field = field or "socket"
    local socket = pub.data[field]
    pub.data[field] = nil
    if type(socket) ~= "string" or socket == "" then
        return pub
    end
    local ex = pub.exclude_client
    if ex == nil or ex == "" or ex == socket then
        pub.exclude_client = socket
    elseif type(ex) == "table" then
        for i = 1, #ex do
            if ex[i] == socket then
                return pub
            end
        end
        ex[#ex + 1] = socket
    else
        pub.exclude_client = {ex, socket}
    end
    return pub
end

return laravel
