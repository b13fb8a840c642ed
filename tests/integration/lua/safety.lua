-- Hooks for tests/integration/lua_safety.test.js: runaway loops, memory bombs, sandbox probes
-- and failing hooks, each of which must end in error 100 while the server carries on.

local rules = require "lucent.rules"
local r = rules.new()

r:connect(function(ctx)
    local d = ctx.data
    if type(d) == "table" and d.loop then
        while true do
        end
    end
    if type(d) == "table" and type(d.user) == "string" then
        return {user = d.user}
    end
    return nil
end)

r:subscribe("loop:*", function(ctx)
    while true do
    end
end)

r:publish("chat:*", function(ctx, pub)
    return pub
end)

r:rpc("ok", function(ctx, data)
    return {data = {ok = true}}
end)

-- About 300 000 instructions: well under the test's budget of 1 000 000 per call, so calling it
-- many times in a row shows the budget is per call, not cumulative.
r:rpc("work", function(ctx, data)
    local x = 0
    for i = 1, 100000 do
        x = x + i
    end
    return {data = {x = x}}
end)

r:rpc("loop", function(ctx, data)
    while true do
    end
end)

-- pcall must not swallow the budget: the hook still ends with error 100.
r:rpc("loop.pcall", function(ctx, data)
    while true do
        pcall(function()
            while true do
            end
        end)
    end
end)

r:rpc("bomb", function(ctx, data)
    local t, i = {}, 0
    while true do
        i = i + 1
        t[i] = string.rep("x", 4096) .. i
    end
end)

r:rpc("bomb.string", function(ctx, data)
    local s = "x"
    while true do
        s = s .. s
    end
end)

-- A megabyte, kept only for the call: fine under the cap, and proves a bomb's memory was
-- given back.
r:rpc("alloc", function(ctx, data)
    local t = {}
    for i = 1, 256 do
        t[i] = string.rep("y", 4096) .. i
    end
    return {data = {n = #t}}
end)

-- Nesting that would overflow the C stack (LuaJIT does not bound it): each ends with error 100.
local nesting = {
    wrap = function()
        local function f()
            return coroutine.wrap(f)()
        end
        return f()
    end,
    resume = function()
        local function f()
            local ok, e = coroutine.resume(coroutine.create(f))
            if not ok then
                error(e, 0)
            end
        end
        return f()
    end,
    gsub = function()
        local function f()
            return (string.gsub("a", "a", function()
                return f()
            end))
        end
        return f()
    end,
    sort = function()
        local function f()
            table.sort({3, 2, 1}, function(a, b)
                f()
                return a < b
            end)
        end
        return f()
    end,
}

r:rpc("nest.{what}", function(ctx, data, what)
    nesting[what]()
    return {data = {survived = what}}
end)

-- Patterns that backtrack for minutes inside one C call without the bounded string functions.
local slow = {
    find = function()
        return string.rep("a", 3000):find(".-.-.-b")
    end,
    match = function()
        return string.rep("a", 3000):match("(.-)(.-)(.-)b")
    end,
    gmatch = function()
        for _ in string.rep("a", 3000):gmatch(".-.-.-b") do
        end
    end,
    gsub = function()
        return string.gsub(string.rep("a", 3000), ".-.-.-b", "")
    end,
    find_pcall = function()
        while true do
            pcall(string.find, string.rep("a", 3000), ".-.-.-b")
        end
    end,
    rep = function()
        return string.rep("ab", 1e9)
    end,
}

r:rpc("slow.{what}", function(ctx, data, what)
    slow[what]()
    return {data = {survived = what}}
end)

-- Sandbox probes: each uses something the sandbox does not offer, which raises (error 100).
local probes = {
    io = function()
        return io.open("/etc/hostname")
    end,
    os_execute = function()
        return os.execute("true")
    end,
    os_exit = function()
        return os.exit(3)
    end,
    os_getenv = function()
        return os.getenv("HOME")
    end,
    require_os = function()
        return require("os").execute("true")
    end,
    require_io = function()
        return require("io").open("/etc/hostname")
    end,
    require_ffi = function()
        return require("ffi").C
    end,
    require_debug = function()
        return require("debug").getinfo(1)
    end,
    require_outside = function()
        return require "etc.hostname"
    end,
    debug = function()
        return debug.getinfo(1)
    end,
    loadlib = function()
        return package.loadlib("libc.so.6", "system")
    end,
    dofile = function()
        return dofile("/etc/hostname")
    end,
    loadfile = function()
        return loadfile("/etc/hostname")()
    end,
}

r:rpc("probe.{what}", function(ctx, data, what)
    local probe = probes[what]
    if probe == nil then
        return lucent.error(107, "no such probe")
    end
    probe()
    return {data = {escaped = what}}
end)

-- Ways around setfenv: the thread's and the caller's environments must not hold io or a
-- working os.execute either.
r:rpc("escape", function(ctx, data)
    local found = {}
    local function look(name, env)
        if type(env) == "table" then
            if env.io ~= nil then
                found[#found + 1] = name .. ".io"
            end
            if type(env.os) == "table" and env.os.execute ~= nil then
                found[#found + 1] = name .. ".os.execute"
            end
            if env.debug ~= nil then
                found[#found + 1] = name .. ".debug"
            end
        end
    end
    look("_G", _G)
    if getfenv ~= nil then
        look("getfenv(0)", getfenv(0))
        look("getfenv(1)", getfenv(1))
        look("getfenv(print)", getfenv(print))
        look("getfenv(lucent.now)", getfenv(lucent.now))
    end
    local mt = getmetatable("")
    if type(mt) == "table" then
        look("string metatable", mt)
        look("string metatable __index", mt.__index)
    end
    return {data = {found = found}}
end)

-- Bytecode must not load: string.dump, or loading its output, is refused.
r:rpc("bytecode", function(ctx, data)
    local ok, bc = pcall(string.dump, function()
        return 1
    end)
    if not ok or type(bc) ~= "string" then
        return {data = {loaded = false}}
    end
    local loader = loadstring or load
    local fn = loader and loader(bc)
    return {data = {loaded = fn ~= nil}}
end)

r:rpc("boom", function(ctx, data)
    error("boom-marker " .. tostring(data.n))
end)

r:rpc("not.a.decision", function(ctx, data)
    return 42
end)

r:rpc("bad.field", function(ctx, data)
    return {data = function() end}
end)

return r:hooks()
