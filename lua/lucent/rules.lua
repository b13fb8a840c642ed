-- lucent.rules: Laravel-style routes for Lucent's Lua hooks.
--
--   local rules = require "lucent.rules"
--   local r = rules.new()
--   r:subscribe("user:{id}", function(ctx, id) return ctx.user == id end)
--   r:publish("chat:room-{room}", function(ctx, pub, room) ... return pub end)
--   r:rpc("time", function(ctx, data) return {data = {now = lucent.now()}} end)
--   return r:hooks()
--
-- Pattern syntax (channels, and rpc method names):
--   literal text     matches itself; Lua's magic characters (. - + % $ ...) are plain text
--   {name}           captures one segment: one or more characters other than '.' and ':'
--                    (Laravel's `orders.{id}`, Centrifugo's `user:{id}`); the captures are
--                    passed to the rule's function in the order they appear
--   * (whole)        matches every name
--   * (at the end)   matches the rest of the name, possibly empty (`chat:*`); not captured
-- A name must match the whole pattern. Routes are tried in the order they were added and the
-- first route whose pattern matches decides: its function's return value is the hook's answer
-- (nil included, which means "no opinion": the token, proxy or namespace options decide).
-- No matching route is also nil. A bad pattern raises an error naming it when the route is
-- added, so a broken script fails when it loads rather than on the first matching channel.

local type, error, setmetatable, ipairs, pairs = type, error, setmetatable, ipairs, pairs
local format, find, match, gsub, sub = string.format, string.find, string.match, string.gsub,
    string.sub
local concat = table.concat

local rules = {}

-- What {name} matches: one segment of a channel name.
local SEGMENT = "[^.:]+"

-- Returned by the dispatch helpers when a route's pattern does not match (never a decision:
-- no hook can produce this table).
local NOMATCH = {}

-- Lua pattern text for a literal: every magic character escaped, NUL as %z (Lua 5.1 patterns
-- cannot hold a NUL byte).
local function escape(s)
    return (gsub(gsub(s, "[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"), "%z", "%%z"))
end

-- Compiles a route pattern. Returns a route table {pattern, lua, n, names, literal} or nil and
-- a message.
local function compile(pattern)
    if type(pattern) ~= "string" then
        return nil, format("lucent.rules: pattern must be a string, got %s", type(pattern))
    end
    if pattern == "" then
        return nil, "lucent.rules: empty pattern"
    end
    local route = {pattern = pattern, names = {}, n = 0}
    if pattern == "*" then
        route.lua = ".*"
        route.any = true
        return route
    end
    local parts, seen, pos, len = {"^"}, {}, 1, #pattern
    while pos <= len do
        local c = sub(pattern, pos, pos)
        if c == "{" then
            local close = find(pattern, "}", pos + 1, true)
            if close == nil then
                return nil, format("lucent.rules: bad pattern %q: '{' at %d is not closed", pattern,
                    pos)
            end
            local name = sub(pattern, pos + 1, close - 1)
            if name == "" then
                return nil, format("lucent.rules: bad pattern %q: empty parameter name at %d",
                    pattern, pos)
            end
            if not find(name, "^[%a_][%w_]*$") then
                return nil, format("lucent.rules: bad pattern %q: bad parameter name %q", pattern,
                    name)
            end
            if seen[name] then
                return nil, format("lucent.rules: bad pattern %q: parameter {%s} appears twice",
                    pattern, name)
            end
            seen[name] = true
            route.n = route.n + 1
            route.names[route.n] = name
            parts[#parts + 1] = "(" .. SEGMENT .. ")"
            pos = close + 1
        elseif c == "}" then
            return nil, format("lucent.rules: bad pattern %q: '}' at %d without '{'", pattern, pos)
        elseif c == "*" then
            if pos ~= len then
                return nil, format("lucent.rules: bad pattern %q: '*' only at the end", pattern)
            end
            parts[#parts + 1] = ".*"
            route.rest = true
            pos = pos + 1
        else
            -- A run of literal text up to the next special character.
            local stop = find(pattern, "[{}*]", pos) or len + 1
            parts[#parts + 1] = escape(sub(pattern, pos, stop - 1))
            pos = stop
        end
    end
    if not route.rest then
        parts[#parts + 1] = "$"
    end
    route.lua = concat(parts)
    -- Plain text: compared with ==, no pattern matching at all.
    route.literal = route.n == 0 and not route.rest
    return route
end

--- Compiles pattern like a route does and returns the Lua pattern and the parameter names;
--- raises on a bad pattern. For tests and for scripts that match names by hand.
function rules.compile(pattern)
    local route, err = compile(pattern)
    if route == nil then
        error(err, 2)
    end
    return route.lua, route.names
end

-- Lucent's hidden helpers: note a matched route in a traced decision (a no-op otherwise) and
-- register the routes for `lucent routes` and the reload log. Absent outside Lucent.
local api = type(lucent) == "table" and lucent or {}
local function noop() end
local matched = api._route or noop
local register = api._routes or noop

-- Dispatch: call fn with the fixed arguments then the captures, or NOMATCH when string.match
-- found nothing (its first capture is nil). One value is kept: a hook answers one decision.
local function call1(route, a, c1, ...)
    if c1 == nil then
        return NOMATCH
    end
    matched(route.kind, route.pattern, route.fn, route.names, c1, ...)
    return (route.fn(a, c1, ...))
end

local function call2(route, a, b, c1, ...)
    if c1 == nil then
        return NOMATCH
    end
    matched(route.kind, route.pattern, route.fn, route.names, c1, ...)
    return (route.fn(a, b, c1, ...))
end

-- Tries one route against name with one fixed argument (a) or two (a, b; nargs == 2).
local function try(route, name, nargs, a, b)
    if route.any or (route.literal and name == route.pattern) then
        matched(route.kind, route.pattern, route.fn)
        if nargs == 2 then
            return (route.fn(a, b))
        end
        return (route.fn(a))
    end
    if route.literal or type(name) ~= "string" then
        return NOMATCH
    end
    if route.n == 0 then
        if not find(name, route.lua) then
            return NOMATCH
        end
        matched(route.kind, route.pattern, route.fn)
        if nargs == 2 then
            return (route.fn(a, b))
        end
        return (route.fn(a))
    end
    if nargs == 2 then
        return call2(route, a, b, match(name, route.lua))
    end
    return call1(route, a, match(name, route.lua))
end

-- The first matching route decides; nil when none matches.
local function dispatch(list, name, nargs, a, b)
    for _, route in ipairs(list) do
        local d = try(route, name, nargs, a, b)
        if d ~= NOMATCH then
            return d
        end
    end
    return nil
end

local Router = {}
Router.__index = Router

--- A new, empty set of routes.
function rules.new()
    return setmetatable({routes = {}, single = {}}, Router)
end

-- Adds a route of kind. Errors are raised at the level of the script calling r:<kind>(), which
-- must therefore call this without a tail call (a tail call drops its frame).
local function add(self, kind, pattern, fn)
    local route, err = compile(pattern)
    if route == nil then
        error(err, 3)
    end
    if type(fn) ~= "function" then
        error(format("lucent.rules: %s %q: the rule must be a function, got %s", kind, pattern,
            type(fn)), 3)
    end
    route.fn = fn
    route.kind = kind
    local list = self.routes[kind]
    if list == nil then
        list = {}
        self.routes[kind] = list
    end
    list[#list + 1] = route
end

-- Hooks without a channel: one function each.
local function set_single(self, kind, fn)
    if type(fn) ~= "function" then
        error(format("lucent.rules: %s: the rule must be a function, got %s", kind, type(fn)), 3)
    end
    if self.single[kind] ~= nil then
        error(format("lucent.rules: %s is already defined", kind), 3)
    end
    self.single[kind] = fn
end

--- fn(ctx, captures...) decides a subscription to a matching channel (ctx.channel).
function Router:subscribe(pattern, fn)
    add(self, "subscribe", pattern, fn)
    return self
end

--- fn(ctx, captures...) decides the refresh of a subscription (sub_refresh).
function Router:sub_refresh(pattern, fn)
    add(self, "sub_refresh", pattern, fn)
    return self
end

--- fn(ctx, captures...) is told about an unsubscription (ctx.code); its answer is ignored.
function Router:unsubscribe(pattern, fn)
    add(self, "unsubscribe", pattern, fn)
    return self
end

--- fn(ctx, pub, captures...) decides a client's publication pub = {channel, data}; it may
--- change pub and return it.
function Router:publish(pattern, fn)
    add(self, "publish", pattern, fn)
    return self
end

--- fn(ctx, pub, captures...) sees every server API publish / broadcast to a matching channel
--- before history and fan-out; it may change pub (data, exclude_client) and return it.
function Router:broadcast(pattern, fn)
    add(self, "broadcast", pattern, fn)
    return self
end

--- fn(ctx, data, captures...) answers an RPC whose method (ctx.method) matches pattern.
function Router:rpc(pattern, fn)
    add(self, "rpc", pattern, fn)
    return self
end

--- fn(ctx) decides a connection.
function Router:connect(fn)
    set_single(self, "connect", fn)
    return self
end

--- fn(ctx) decides the refresh of a connection.
function Router:refresh(fn)
    set_single(self, "refresh", fn)
    return self
end

--- fn(ctx) is told about a disconnection (ctx.code); its answer is ignored.
function Router:disconnect(fn)
    set_single(self, "disconnect", fn)
    return self
end

--- The hooks table a script returns: one function for each kind that has a rule when hooks()
--- is called (call it last; core skips the kinds a script does not define).
function Router:hooks()
    local hooks, routes, listed = {}, self.routes, {}
    for _, kind in ipairs({"connect", "refresh", "disconnect"}) do
        if self.single[kind] ~= nil then
            listed[#listed + 1] = {kind, "", self.single[kind]}
        end
    end
    for _, kind in ipairs({"subscribe", "sub_refresh", "unsubscribe", "publish", "broadcast",
        "rpc"}) do
        for _, route in ipairs(routes[kind] or {}) do
            listed[#listed + 1] = {kind, route.pattern, route.fn}
        end
    end
    register(listed)
    for kind, fn in pairs(self.single) do
        hooks[kind] = fn
    end
    for _, kind in ipairs({"subscribe", "sub_refresh", "unsubscribe"}) do
        if routes[kind] ~= nil then
            hooks[kind] = function(ctx)
                return dispatch(routes[kind], ctx.channel, 1, ctx)
            end
        end
    end
    for _, kind in ipairs({"publish", "broadcast"}) do
        if routes[kind] ~= nil then
            hooks[kind] = function(ctx, pub)
                local channel = pub ~= nil and pub.channel or ctx.channel
                return dispatch(routes[kind], channel, 2, ctx, pub)
            end
        end
    end
    if routes.rpc ~= nil then
        hooks.rpc = function(ctx)
            return dispatch(routes.rpc, ctx.method, 2, ctx, ctx.data)
        end
    end
    return hooks
end

return rules
