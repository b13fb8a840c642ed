-- lucent.laravel: channel names between Lucent and Laravel, normalizeChannelName, toOthers().

local laravel = require "lucent.laravel"
local rules = require "lucent.rules"

test("to_laravel maps Lucent channels as the laravel_auth bridge does", function()
    local cases = {
        {"$orders.1", "private-orders.1"},
        {"presence-chat.1", "presence-chat.1"},
        {"$presence-x", "presence-x"},
        {"private-orders.1", "private-orders.1"},
        {"orders.2", "private-orders.2"},
        {"x", "private-x"},
        {"$private-x", "private-private-x"},
        {"$$x", "private-$x"},
    }
    for _, c in ipairs(cases) do
        eq(laravel.to_laravel(c[1]), c[2], c[1])
    end
end)

test("to_laravel refuses an empty name and a lone '$'", function()
    local name, err = laravel.to_laravel("")
    eq(name, nil)
    ok(err:find("no channel name"), err)
    name, err = laravel.to_laravel("$")
    eq(name, nil)
    ok(err ~= nil)
    eq(laravel.to_laravel(nil), nil)
    eq(laravel.to_laravel(42), nil)
end)

test("to_lucent maps Laravel names as the Centrifugo broadcaster publishes them", function()
    local cases = {
        {"private-orders.1", "$orders.1"},
        {"presence-chat.1", "presence-chat.1"},
        {"public:news", "public:news"},
        {"orders.1", "orders.1"},
        {"private-encrypted-x", "$encrypted-x"},
    }
    for _, c in ipairs(cases) do
        eq(laravel.to_lucent(c[1]), c[2], c[1])
    end
    eq(laravel.to_lucent(""), nil)
    eq(laravel.to_lucent(nil), nil)
end)

test("private and presence channels survive the round trip", function()
    for _, ch in ipairs({"$orders.1", "presence-chat.1", "$user.42"}) do
        eq(laravel.to_lucent(laravel.to_laravel(ch)), ch, ch)
    end
    -- `$presence-x` is the same Laravel channel as `presence-x`.
    eq(laravel.to_lucent(laravel.to_laravel("$presence-x")), "presence-x")
end)

test("strip_prefix removes what normalizeChannelName removes, first prefix only", function()
    local cases = {
        {"private-orders.1", "orders.1"},
        {"presence-chat.1", "chat.1"},
        {"private-encrypted-secret.1", "secret.1"},
        {"private-presence-x", "presence-x"},
        {"presence-private-x", "private-x"},
        {"public:news", "public:news"},
        {"$orders.1", "$orders.1"},
        {"", ""},
    }
    for _, c in ipairs(cases) do
        eq(laravel.strip_prefix(c[1]), c[2], c[1])
    end
    eq(laravel.strip_prefix(laravel.to_laravel("$orders.1")), "orders.1")
end)

test("to_others excludes the socket from the payload and removes the key", function()
    local pub = {channel = "$orders.1", data = {event = "OrderShipped", socket = "abc-123", id = 1}}
    local out = laravel.to_others(pub)
    ok(out == pub, "returns the same table")
    eq(out, {channel = "$orders.1", exclude_client = "abc-123",
             data = {event = "OrderShipped", id = 1}})
end)

test("to_others without the field leaves pub as it was", function()
    local pub = {channel = "c", data = {event = "E"}}
    eq(laravel.to_others(pub), {channel = "c", data = {event = "E"}})
end)

test("to_others with a null or empty socket only removes the key", function()
    local null = {} -- a JSON null decodes to some sentinel that is not a string
    eq(laravel.to_others({data = {socket = null, a = 1}}), {data = {a = 1}})
    eq(laravel.to_others({data = {socket = "", a = 1}}), {data = {a = 1}})
    eq(laravel.to_others({data = {socket = 5}}), {data = {}})
end)

test("to_others reads another field when asked", function()
    eq(laravel.to_others({data = {sender = "c1", socket = "keep"}}, "sender"),
        {data = {socket = "keep"}, exclude_client = "c1"})
end)

test("to_others keeps clients excluded already", function()
    eq(laravel.to_others({exclude_client = "a", data = {socket = "b"}}),
        {exclude_client = {"a", "b"}, data = {}})
    eq(laravel.to_others({exclude_client = {"a"}, data = {socket = "b"}}),
        {exclude_client = {"a", "b"}, data = {}})
    eq(laravel.to_others({exclude_client = {"b"}, data = {socket = "b"}}),
        {exclude_client = {"b"}, data = {}})
    eq(laravel.to_others({exclude_client = "b", data = {socket = "b"}}),
        {exclude_client = "b", data = {}})
end)

test("to_others leaves a pub without table data alone", function()
    eq(laravel.to_others({data = "text"}), {data = "text"})
    eq(laravel.to_others({}), {})
    eq(laravel.to_others(nil), nil)
end)

test("a broadcast rule with to_others, as in the examples", function()
    local r = rules.new()
    r:broadcast("*", function(ctx, pub)
        return laravel.to_others(pub)
    end)
    local out = r:hooks().broadcast({client = ""},
        {channel = "$orders.1", data = {event = "E", socket = "s1"}})
    eq(out, {channel = "$orders.1", data = {event = "E"}, exclude_client = "s1"})
end)
