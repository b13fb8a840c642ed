#!/usr/bin/env python3
"""Writes the hand-made seeds of tests/fuzz/corpus/<target>/seed-* (run from anywhere).
Crash inputs found by fuzzing are added next to them as crash-<what> and are never
regenerated."""
import base64, hashlib, hmac, json, os, struct

here = os.path.dirname(os.path.abspath(__file__))


def w(t, name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(here, 'corpus', t)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


for i, s in enumerate([
        '{"a":[1,2.5e-3,true,false,null,"x\\u00e9\\ud83d\\ude00"]}', '[[[[[]]]]]',
        '{"id":1234567890123456789,"price":12.50}',
        '{"publish":{"channel":"a\\u0000b","data":{"k":"\\u0000"}}}',
        ' \r\n\t{ "k" : -0.0E+1 } ', '"\\"\\\\\\/\\b\\f\\n\\r\\t"']):
    w('json', str(i), s)
w('json', 'utf8', b'["\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf"]')
w('json', 'bad-utf8', b'["\xff\xfe\xed\xa0\x80\xc0\xaf"]')

for i, c in enumerate([
        '{"id":1,"connect":{"token":"t","data":{"a":1},"name":"js","version":"1",'
        '"subs":{"ch":{"recover":true,"offset":5,"epoch":"e"}},"headers":{"X":"y"}}}',
        '{"id":2,"subscribe":{"channel":"news","recover":true,"epoch":"abc",'
        '"offset":18446744073709551615,"positioned":true,"recoverable":true,"join_leave":true,'
        '"data":[1]}}',
        '{"id":3,"publish":{"channel":"chat:room","data":{"text":"line1\\r\\nline2",'
        '"n":1234567890123456789}}}',
        '{"id":4,"history":{"channel":"a","limit":-1,"since":{"offset":3,"epoch":"x"},'
        '"reverse":true}}\n{"id":5,"presence":{"channel":"a"}}\n'
        '{"id":6,"presence_stats":{"channel":"a"}}',
        '{"id":7,"rpc":{"method":"m","data":"s"}}\n{"send":{"data":{}}}\n{}',
        '{"id":8,"refresh":{"token":"x"}}\n{"id":9,"sub_refresh":{"channel":"a","token":"y"}}\n'
        '{"id":10,"unsubscribe":{"channel":"a"}}',
        '{"id":11,"publish":{"channel":"room\\u0000x","data":{}}}',
        '{"id":12,"subscribe":{"channel":"cursors:r","type":1,"phase":2,"cursor":"c1",'
        '"limit":50,"delta":"fossil"}}\n{"id":13,"subscribe":{"channel":"cursors:r","type":1,'
        '"phase":1,"offset":4,"epoch":"e","recover":true}}',
        '{"id":14,"publish":{"channel":"cursors:r","type":1,"key":"u1","data":{"x":1}}}\n'
        '{"id":15,"publish":{"channel":"cursors:r","type":1,"key":"u1","removed":true}}',
        '{"id":16,"subscribe":{"channel":"votes:p","type":4}}\n{"id":17,"sub_refresh":'
        '{"channel":"votes:p","type":1,"track":[{"signature":"1:2:ab","items":[{"key":"a"},'
        '{"key":"b","version":3}]}]}}\n{"id":18,"sub_refresh":{"channel":"votes:p","type":2,'
        '"untrack":["a"]}}']):
    w('proto', str(i), c)

for i, c in enumerate([
        '{"http_server":{"port":8000},"client":{"token":{"hmac_secret_key":"s"},'
        '"allowed_origins":["*"]},"channel":{"without_namespace":{"allow_subscribe_for_client":true,'
        '"history_size":10,"history_ttl":"60s"},"namespaces":[{"name":"chat","presence":true,'
        '"join_leave":true,"allow_publish_for_subscriber":true,"channel_regex":"^[a-z]+$"}]}}',
        '{"http_api":{"key":"k"},"proxies":[{"name":"p","endpoint":"http://127.0.0.1:1/x",'
        '"timeout":"1s"}],"client":{"proxy":{"connect":{"enabled":true,'
        '"endpoint":"http://127.0.0.1:1"}}}}',
        '{"sse":{"enabled":true},"http_stream":{"enabled":true},"uni_sse":{"enabled":true},'
        '"uni_websocket":{"enabled":true},"log_level":"debug","engine":{"type":"memory"}}',
        'ENV\nCENTRIFUGO_HTTP_SERVER_PORT=9000\nCENTRIFUGO_CLIENT_ALLOWED_ORIGINS=http://a http://b\n'
        'CENTRIFUGO_CHANNEL_NAMESPACES=[{"name":"x"}]\nLUCENT_LOG_LEVEL=info']):
    w('config', str(i), c)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=')


def tok(claims, alg='HS256'):
    h = b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())
    p = b64(json.dumps(claims).encode())
    s = b64(hmac.new(b'fuzz-secret', h + b'.' + p, hashlib.sha256).digest())
    return h + b'.' + p + b'.' + s


w('jwt', '0', b'\x00' + tok({'sub': 'u', 'exp': 1900000000, 'info': {'a': 1}, 'channels': ['a'],
                             'subs': {'x': {'data': {'d': 1},
                                            'override': {'presence': {'value': True}}}}}))
w('jwt', '1', b'\x00' + tok({'sub': 'u', 'channel': 'c', 'client': 'cl',
                             'expire_at': 1900000000, 'b64info': 'e30='}))
w('jwt', '2', b'\x01{"sub":"u","exp":1900000000.5,"meta":{"m":1},"subs":{"a":null}}')
w('jwt', '3', b'\x01{"sub":"u","channel":"room","override":{"join_leave":{"value":false}},'
              b'"info":{"x":"y"}}')
w('jwt', '4', b'\x02{"a":{"info":{"k":1},"b64data":"AAE=",'
              b'"override":{"force_recovery":{"value":true}}}}')
w('jwt', '5', b'\x00' + tok({'sub': 'u'}, alg='none'))

for i, (k, b) in enumerate([
        (0, '{"result":{"user":"u","expire_at":1900000000,"info":{"a":1},"data":{"d":[1]},'
            '"channels":["a"],"subs":{"x":{"info":{}}},"meta":{"m":1}}}'),
        (1, '{"result":{"expired":false,"expire_at":1,"info":{"i":1}}}'),
        (2, '{"result":{"info":{"x":1},"b64data":"e30=","override":{"presence":{"value":true}},'
            '"expire_at":5}}'),
        (3, '{"result":{"data":{"replaced":true},"skip_history":true}}'),
        (5, '{"result":{"data":{"answer":42}}}'),
        (0, '{"error":{"code":1000,"message":"m","temporary":true}}'),
        (0, '{"disconnect":{"code":4000,"reason":"r"}}'),
        (0xF0, '{"auth":"k:s","channel_data":"{\\"user_id\\":1,\\"user_info\\":{\\"n\\":\\"x\\"}}"}'),
        (0xF1, '{"channel_data":{"user_id":"1","user_info":{"name":"a"}}}'),
        (0xF2, 'true'),
        (3, '{"result":{"key":"k2","data":{"x":1},"score":-7,"tags":{"t":"v"},"key_mode":"if_new",'
            '"stream_data":{"d":1},"idempotency_key":"i","version":3,"version_epoch":"e",'
            '"delta":true}}'),
        (0xE0, '{"result":{"epoch":"e1","items":[{"key":"a","data":{"votes":1},"version":2},'
               '{"key":"b","removed":true},{"key":"c","b64data":"eyJ4IjoxfQ=="}]}}'),
        (0xE1, '{"error":{"code":1000,"message":"backend unavailable"}}')]):
    w('proxy', str(i), bytes([k]) + b.encode())

for i, (k, b) in enumerate([
        (0, '{"user":"u","info":{"a":1},"data":{"b":[1,2,{"c":null}]},"channels":["x"],'
            '"expire_at":10}'),
        (4, '{"data":{"x":1},"skip_history":true,"exclude_users":["a"],"exclude_clients":["c"]}'),
        (2, '{"error":{"code":4000,"message":"no"}}'), (6, '{"data":"str"}'), (1, '[1,2,3]'),
        (0, '"x"'), (2, '{"override":{"presence":{"value":true}},"info":{"k":"v"},"data":1.5}')]):
    w('lua', str(i), bytes([k]) + b.encode())

UPG = ('Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
       'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n')
for i, r in enumerate([
        'GET /echo?a=1&b=%41 HTTP/1.1\r\nHost: x\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'
        'GET /p/longer/z HTTP/1.1\r\n\r\n',
        'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        'GET /connection/websocket HTTP/1.1\r\n' + UPG +
        'Sec-WebSocket-Protocol: centrifuge-protobuf\r\n\r\n\x81\x84\x00\x00\x00\x00ping',
        'GET /connection/sse?cf_connect=%7B%22id%22%3A1%2C%22connect%22%3A%7B%7D%7D HTTP/1.1\r\n'
        'Host: x\r\nOrigin: http://a\r\n\r\n',
        'POST /connection/http_stream HTTP/1.1\r\nHost: x\r\nContent-Length: 24\r\n\r\n'
        '{"id":1,"connect":{}}\n{}',
        'POST /emulation HTTP/1.1\r\nHost: x\r\nContent-Length: 54\r\n\r\n'
        '{"session":"s1","node":"fake-node","data":"{\\"id\\":2}"}',
        'GET /connection/uni_sse?cf_connect=%7B%22token%22%3A%22x%22%7D HTTP/1.1\r\n\r\n',
        'POST /connection/uni_http_stream HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}',
        'GET /connection/uni_websocket HTTP/1.1\r\n' + UPG + '\r\n\x81\x82\x00\x00\x00\x00{}',
        'OPTIONS /connection/http_stream HTTP/1.1\r\nOrigin: http://a\r\n'
        'Access-Control-Request-Method: POST\r\n\r\n',
        'GET /async HTTP/1.0\r\n\r\n']):
    w('http', str(i), r.encode('latin1'))


def frame(op, payload, fin=True, mask=b'\x01\x02\x03\x04'):
    b0 = (0x80 if fin else 0) | op
    n = len(payload)
    if n < 126:
        hdr = bytes([b0, 0x80 | n])
    elif n < 65536:
        hdr = bytes([b0, 0x80 | 126]) + struct.pack('>H', n)
    else:
        hdr = bytes([b0, 0x80 | 127]) + struct.pack('>Q', n)
    return hdr + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload))


w('ws', '0', frame(1, b'{"id":1,"connect":{}}'))
w('ws', '1', frame(1, b'hel', fin=False) + frame(0, b'lo'))
w('ws', '2', frame(9, b'p') + frame(10, b'') + frame(8, struct.pack('>H', 1000) + b'bye'))
w('ws', '3', frame(2, b'\x00\x01\xff'))
w('ws', '4', frame(1, b'ping') + frame(1, b'close'))
w('ws', '5', frame(1, b'x' * 300))
w('ws', '6', frame(1, b'a', fin=False) + frame(9, b'') + frame(0, b'b', fin=False) + frame(0, b'c'))
w('ws', '7', frame(1, b'\xff\xfe'))
