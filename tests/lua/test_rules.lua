-- lucent.rules: pattern compilation, matching, captures, first match wins, hook arguments.

local rules = require "lucent.rules"

-- The subscribe hook of a router with one rule, called for channel; returns its decision.
local function sub1(pattern, channel, fn)
    local r = rules.new()
    r:subscribe(pattern, fn or function(ctx, ...)
        return {...}
    end)
    return r:hooks().subscribe({channel = channel, user = "42"})
end

test("a literal pattern matches only the same name", function()
    eq(sub1("news", "news"), {})
    eq(sub1("news", "news2"), nil)
    eq(sub1("news", "new"), nil)
    eq(sub1("news", "xnews"), nil)
end)

test("a {param} captures one segment and is passed after ctx", function()
    eq(sub1("user:{id}", "user:42"), {"42"})
    eq(sub1("orders.{orderId}", "orders.1"), {"1"})
    eq(sub1("chat:room-{room}", "chat:room-lobby"), {"lobby"})
end)

test("a {param} stops at '.' and ':' and is never empty", function()
    eq(sub1("orders.{id}", "orders.1.items"), nil)
    eq(sub1("user:{id}", "user:a:b"), nil)
    eq(sub1("user:{id}", "user:"), nil)
    eq(sub1("{ns}:x", "a.b:x"), nil)
end)

test("a matched route is reported with its parameter names and captures (decision trace)", function()
    lucent.last_route = nil
    eq(sub1("orders.{order}.items.{item}", "orders.7.items.9"), {"7", "9"})
    eq(lucent.last_route.kind, "subscribe")
    eq(lucent.last_route.pattern, "orders.{order}.items.{item}")
    eq(lucent.last_route.names, {"order", "item"})
    eq(lucent.last_route.captures, {"7", "9"})
    lucent.last_route = nil
    eq(sub1("orders.{id}", "news"), nil)
    eq(lucent.last_route, nil)
end)

test("several params arrive in pattern order", function()
    eq(sub1("{ns}:{a}.{b}", "chat:1.2"), {"chat", "1", "2"})
    eq(sub1("orders.{order}.items.{item}", "orders.7.items.9"), {"7", "9"})
    -- '-' is no separator: {from} backtracks to leave the '-' and one character for {to}.
    local from, to
    local r = rules.new()
    r:subscribe("dm:{from}-{to}", function(ctx, a, b)
        from, to = a, b
        return true
    end)
    eq(r:hooks().subscribe({channel = "dm:1-2"}), true)
    eq(from, "1")
    eq(to, "2")
end)

test("'*' alone matches every channel", function()
    eq(sub1("*", "anything:at.all"), {})
    eq(sub1("*", "$orders.1"), {})
end)

test("a trailing '*' matches the rest, which is not captured", function()
    eq(sub1("chat:*", "chat:room.1:x"), {})
    eq(sub1("chat:*", "chat:"), {})
    eq(sub1("chat:*", "news"), nil)
    eq(sub1("user:{id}.*", "user:42.inbox.unread"), {"42"})
    eq(sub1("user:{id}.*", "user:42"), nil)
end)

test("magic characters in patterns are plain text", function()
    eq(sub1("chat-room.1", "chat-room.1"), {})
    eq(sub1("a+b", "a+b"), {})
    eq(sub1("a+b", "aab"), nil)
    eq(sub1("%", "%"), {})
    eq(sub1("100%.{n}", "100%.5"), {"5"})
    eq(sub1("$orders.{id}", "$orders.1"), {"1"})
    eq(sub1("$orders.{id}", "orders.1"), nil)
    eq(sub1("a.b", "axb"), nil)
    eq(sub1("x(y)[z]^?-{p}", "x(y)[z]^?-q"), {"q"})
    eq(sub1("room-{id}", "room-1"), {"1"})
    eq(sub1("room-{id}", "roo-1"), nil)
end)

test("rules.compile escapes magic characters and anchors the pattern", function()
    local lua, names = rules.compile("a.b-{x}:%*")
    eq(lua, "^a%.b%-([^.:]+):%%.*")
    eq(names, {"x"})
    lua = rules.compile("a\0b")
    ok(("a\0b"):find(lua), "NUL matches itself")
    ok(not ("axb"):find(lua), "NUL is not a wildcard")
end)

test("the first matching rule wins, even when it answers nil", function()
    local r = rules.new()
    local calls = {}
    r:subscribe("user:{id}", function(ctx, id)
        calls[#calls + 1] = "first"
        return nil
    end)
    r:subscribe("user:*", function()
        calls[#calls + 1] = "second"
        return false
    end)
    r:subscribe("*", function()
        calls[#calls + 1] = "fallback"
        return true
    end)
    local h = r:hooks()
    eq(h.subscribe({channel = "user:1"}), nil)
    eq(calls, {"first"})
    eq(h.subscribe({channel = "user:"}), false)
    eq(h.subscribe({channel = "news"}), true)
    eq(calls, {"first", "second", "fallback"})
end)

test("no matching rule is nil (no opinion)", function()
    local r = rules.new()
    r:subscribe("user:{id}", function()
        return true
    end)
    local h = r:hooks()
    eq(h.subscribe({channel = "news"}), nil)
    eq(h.subscribe({}), nil)
end)

test("decisions are returned as the rule answers them", function()
    local r = rules.new()
    r:subscribe("err", function()
        return lucent.error(103, "permission denied")
    end)
    r:subscribe("bye", function()
        return lucent.disconnect(4501, "go away")
    end)
    r:subscribe("info", function()
        return {info = {role = "admin"}}
    end)
    local h = r:hooks()
    eq(h.subscribe({channel = "err"}), {lucent = "error", code = 103, message = "permission denied"})
    eq(h.subscribe({channel = "bye"}), {lucent = "disconnect", code = 4501, reason = "go away"})
    eq(h.subscribe({channel = "info"}), {info = {role = "admin"}})
end)

test("only the first value a rule returns is kept", function()
    eq(sub1("x", "x", function()
        return true, "extra"
    end), true)
    local r = rules.new()
    r:subscribe("{a}", function()
        return false, 1, 2
    end)
    eq(select("#", r:hooks().subscribe({channel = "x"})), 1)
end)

test("a bad pattern raises from the call that adds it, naming the pattern", function()
    local r = rules.new()
    raises(function() r:subscribe("user:{id", function() end) end, '"user:{id"')
    raises(function() r:subscribe("user:{id", function() end) end, "not closed")
    raises(function() r:subscribe("user:id}", function() end) end, '"user:id}"')
    raises(function() r:subscribe("user:{}", function() end) end, "empty parameter name")
    raises(function() r:subscribe("{a}.{a}", function() end) end, '"{a}.{a}"')
    raises(function() r:subscribe("{a}.{a}", function() end) end, "appears twice")
    raises(function() r:publish("{1x}", function() end) end, "bad parameter name")
    raises(function() r:publish("{a b}", function() end) end, "bad parameter name")
    raises(function() r:broadcast("a*b", function() end) end, "'*' only at the end")
    raises(function() r:rpc("", function() end) end, "empty pattern")
    raises(function() r:subscribe(42, function() end) end, "must be a string")
    raises(function() r:subscribe("ok", "not a function") end, "must be a function")
    eq(r:hooks(), {})
end)

test("a bad pattern's error points at the script line that added it", function()
    local r = rules.new()
    local good, err = pcall(function()
        r:subscribe("{", function() end) -- this line
    end)
    ok(not good)
    ok(err:find("test_rules.lua:%d+:"), "error has the caller's file:line: " .. err)
end)

test("publish rules get (ctx, pub, captures...) and may return pub changed", function()
    local r = rules.new()
    local seen
    r:publish("chat:room-{room}", function(ctx, pub, room)
        seen = {ctx.user, pub.channel, room}
        pub.data.text = pub.data.text:upper()
        return pub
    end)
    local h = r:hooks()
    local ctx = {user = "7", channel = "chat:room-1"}
    local pub = {channel = "chat:room-1", data = {text = "hi"}}
    eq(h.publish(ctx, pub), {channel = "chat:room-1", data = {text = "HI"}})
    eq(seen, {"7", "chat:room-1", "1"})
    eq(h.publish({channel = "news"}, {channel = "news", data = {}}), nil)
    ok(h.subscribe == nil, "no subscribe hook without subscribe rules")
end)

test("publish falls back to ctx.channel when pub has no channel", function()
    local r = rules.new()
    r:publish("a.{x}", function(ctx, pub, x)
        return x
    end)
    eq(r:hooks().publish({channel = "a.b"}, {data = {}}), "b")
end)

test("broadcast rules get (ctx, pub, captures...)", function()
    local r = rules.new()
    r:broadcast("$orders.{id}", function(ctx, pub, id)
        pub.data.order = id
        pub.data.client = ctx.client
        return pub
    end)
    local out = r:hooks().broadcast({client = ""}, {channel = "$orders.5", data = {}})
    eq(out, {channel = "$orders.5", data = {order = "5", client = ""}})
end)

test("rpc rules match the method and get (ctx, data, captures...)", function()
    local r = rules.new()
    r:rpc("time", function(ctx, data)
        return {data = {now = 1}}
    end)
    r:rpc("echo", function(ctx, data)
        return {data = data}
    end)
    r:rpc("room.{id}.count", function(ctx, data, id)
        return {data = {room = id, by = ctx.user}}
    end)
    local h = r:hooks()
    eq(h.rpc({method = "time"}), {data = {now = 1}})
    eq(h.rpc({method = "echo", data = {x = 1}}), {data = {x = 1}})
    eq(h.rpc({method = "room.3.count", user = "u"}), {data = {room = "3", by = "u"}})
    eq(h.rpc({method = "unknown"}), nil)
    eq(h.rpc({method = "timex"}), nil)
end)

test("sub_refresh and unsubscribe route by channel", function()
    local r = rules.new()
    local left
    r:sub_refresh("user:{id}", function(ctx, id)
        return {expire_at = 100}
    end)
    r:unsubscribe("chat:{room}", function(ctx, room)
        left = {room, ctx.code}
    end)
    local h = r:hooks()
    eq(h.sub_refresh({channel = "user:1"}), {expire_at = 100})
    eq(h.sub_refresh({channel = "chat:1"}), nil)
    eq(h.unsubscribe({channel = "chat:9", code = 2000}), nil)
    eq(left, {"9", 2000})
end)

test("connect, refresh and disconnect take one function each", function()
    local r = rules.new()
    r:connect(function(ctx)
        return {user = ctx.user}
    end)
    r:refresh(function(ctx)
        return true
    end)
    local gone
    r:disconnect(function(ctx)
        gone = ctx.code
    end)
    local h = r:hooks()
    eq(h.connect({user = "1"}), {user = "1"})
    eq(h.refresh({}), true)
    h.disconnect({code = 3000})
    eq(gone, 3000)
    raises(function() r:connect(function() end) end, "connect is already defined")
    raises(function() r:refresh("x") end, "must be a function")
end)

test("hooks() holds only the kinds that have rules", function()
    local r = rules.new()
    eq(r:hooks(), {})
    r:subscribe("a", function() end)
    r:rpc("m", function() end)
    local kinds = {}
    for k in pairs(r:hooks()) do
        kinds[#kinds + 1] = k
    end
    table.sort(kinds)
    eq(kinds, {"rpc", "subscribe"})
end)

test("routers are independent and methods chain", function()
    local a, b = rules.new(), rules.new()
    a:subscribe("x", function() return true end):subscribe("y", function() return false end)
    eq(a:hooks().subscribe({channel = "y"}), false)
    eq(b:hooks().subscribe, nil)
end)

test("rules may yield (hooks run as coroutines)", function()
    local r = rules.new()
    r:subscribe("room:{id}", function(ctx, id)
        local answer = coroutine.yield("ask " .. id)
        return answer
    end)
    local co = coroutine.create(r:hooks().subscribe)
    local _, asked = coroutine.resume(co, {channel = "room:5"})
    eq(asked, "ask 5")
    local _, decision = coroutine.resume(co, true)
    eq(decision, true)
    eq(coroutine.status(co), "dead")
end)
