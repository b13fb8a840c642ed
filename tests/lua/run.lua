-- Test runner for the shipped Lua library (lua/lucent/), outside the server:
--
--   luajit tests/lua/run.lua                      every test_*.lua next to this file
--   luajit tests/lua/run.lua tests/lua/test_x.lua  the files given
--
-- Prints one line per test and a last line `N passed, M failed`; exits 1 when a test failed or
-- none ran.
--
-- A test file registers its tests with test(name, fn) and checks with eq, ok and raises
-- (globals set here). The server's `lucent` module does not exist outside the server: the
-- global below is the harness's stand-in for the few calls the library and the tests use,
-- with decisions as tagged tables the tests can compare.

local dir = (arg and arg[0] or ""):match("^(.*)[/\\]") or "."
package.path = dir .. "/../../lua/?.lua;" .. package.path

lucent = {
    error = function(code, message)
        return {lucent = "error", code = code, message = message}
    end,
    disconnect = function(code, reason)
        return {lucent = "disconnect", code = code, reason = reason}
    end,
    -- the matched route as the server's decision trace gets it, kept for the tests to read
    _route = function(kind, pattern, fn, names, ...)
        lucent.last_route = {kind = kind, pattern = pattern, names = names or {}, captures = {...}}
    end,
}

local tests = {}

function test(name, fn)
    tests[#tests + 1] = {name = name, fn = fn}
end

local function show(v)
    if type(v) == "string" then
        return string.format("%q", v)
    end
    if type(v) ~= "table" then
        return tostring(v)
    end
    local keys = {}
    for k in pairs(v) do
        keys[#keys + 1] = k
    end
    table.sort(keys, function(a, b)
        return tostring(a) < tostring(b)
    end)
    local parts = {}
    for _, k in ipairs(keys) do
        parts[#parts + 1] = tostring(k) .. "=" .. show(v[k])
    end
    return "{" .. table.concat(parts, ", ") .. "}"
end

local function same(a, b)
    if type(a) ~= "table" or type(b) ~= "table" then
        return a == b
    end
    for k, v in pairs(a) do
        if not same(v, b[k]) then
            return false
        end
    end
    for k in pairs(b) do
        if a[k] == nil then
            return false
        end
    end
    return true
end

-- Deep equality for tables, == for the rest.
function eq(got, want, what)
    if not same(got, want) then
        error(string.format("%sgot %s, want %s", what and (what .. ": ") or "", show(got),
            show(want)), 2)
    end
end

function ok(v, what)
    if not v then
        error(what or "expected a true value", 2)
    end
end

-- fn() must raise an error whose message contains text (plain).
function raises(fn, text)
    local good, err = pcall(fn)
    if good then
        error("expected an error containing " .. show(text), 2)
    end
    if text ~= nil and not tostring(err):find(text, 1, true) then
        error("error " .. show(tostring(err)) .. " does not contain " .. show(text), 2)
    end
end

local files = {}
if arg and #arg > 0 then
    for i = 1, #arg do
        files[#files + 1] = arg[i]
    end
else
    local ls = io.popen('ls "' .. dir .. '"')
    for name in ls:lines() do
        if name:match("^test_.*%.lua$") then
            files[#files + 1] = dir .. "/" .. name
        end
    end
    ls:close()
    table.sort(files)
end

local passed, failed = 0, 0
for _, file in ipairs(files) do
    tests = {}
    local chunk, err = loadfile(file)
    if chunk == nil then
        print("FAIL " .. file .. ": " .. err)
        failed = failed + 1
    else
        local loaded, lerr = pcall(chunk)
        if not loaded then
            print("FAIL " .. file .. ": " .. tostring(lerr))
            failed = failed + 1
        end
        local base = file:match("([^/\\]+)%.lua$") or file
        for _, t in ipairs(tests) do
            local good, terr = xpcall(t.fn, debug.traceback)
            if good then
                passed = passed + 1
                print("ok   " .. base .. ": " .. t.name)
            else
                failed = failed + 1
                print("FAIL " .. base .. ": " .. t.name .. "\n" .. tostring(terr))
            end
        end
    end
end

print(string.format("%d passed, %d failed", passed, failed))
-- No test at all means a wrong path or an empty folder: a failure too.
os.exit((failed == 0 and passed > 0) and 0 or 1)
