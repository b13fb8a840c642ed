-- Laravel's toOthers(): leave the sender's connection out of the fan-out.
--
-- Enable it with, at the top level of the config:
--   "lua": {"script": "lua/laravel_to_others.lua"}   (relative to the config file's folder)
--
-- How it works. The browser sends its Lucent client id to Laravel as the X-Socket-ID header
-- (centrifuge-js: `axios.defaults.headers.common['X-Socket-ID'] = ctx.client` in the
-- `connected` handler). When a controller does
--     broadcast(new OrderShipped($order))->toOthers();
-- Laravel puts that id into the event's payload as `socket`, and the Centrifugo broadcaster
-- publishes the payload through Lucent's server API:
--     {"channel": "$orders.1", "data": {"event": "OrderShipped", "socket": "9336a229-...", ...}}
-- The broadcast hook below runs for every server API publish / broadcast before history and
-- fan-out: it removes `socket` from the payload and excludes that client, so the tab that made
-- the change does not receive its own event (it already updated itself), and no subscriber
-- learns another user's connection id.
--
-- Without a script: the config key `"http_api": {"exclude_client_field": "socket"}` does the
-- same in the server (before any broadcast hook), and a broadcaster that sends exclude_client
-- itself (the LucentBroadcaster of examples/laravel/README.md) needs neither. This script is
-- the starting point when the rule needs more: other fields, some channels only, a payload
-- rewritten on the way.

local rules = require "lucent.rules"
local laravel = require "lucent.laravel"
local r = rules.new()

-- Broadcast hooks get (ctx, pub): ctx describes the API call (ctx.client is ""), pub is
-- {channel = ..., data = ...}. "*" matches every channel. laravel.to_others returns pub with
-- `socket` gone from pub.data and pub.exclude_client set (pub unchanged when the payload has no
-- socket: an event broadcast without toOthers(), or from a queue worker with no request).
r:broadcast("*", function(ctx, pub)
    return laravel.to_others(pub)
end)

-- Only the first matching rule runs. A more specific rule goes before "*" (add it above the
-- one there) and must call to_others itself:
--   r:broadcast("$orders.{id}", function(ctx, pub, id)
--       pub.data.order_id = id                -- captured from the channel name
--       return laravel.to_others(pub)
--   end)
-- The Laravel name of a channel, for rules written after routes/channels.php:
--   laravel.to_laravel("$orders.1")          --> "private-orders.1"
--   laravel.strip_prefix("private-orders.1") --> "orders.1"

return r:hooks()
