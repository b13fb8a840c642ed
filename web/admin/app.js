// Lucent admin UI: plain DOM, no framework, no external resources. Every value from the server
// is put in the page with textContent, never as HTML.
'use strict';

const $ = (sel) => document.querySelector(sel);
const view = $('#view');
let timer = null;
let tail = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function call(method, params = {}) {
  const r = await fetch(`api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Lucent-Admin': '1' },
    body: JSON.stringify(params),
    credentials: 'same-origin',
  });
  let body = null;
  try {
    body = await r.json();
  } catch (e) {
    body = null;
  }
  if (r.status === 401) {
    showLogin();
    throw new Error('log in first');
  }
  if (!r.ok || !body || body.error) {
    const msg = body && body.error ? body.error.message : `HTTP ${r.status}`;
    throw new Error(msg);
  }
  return body.result;
}

function stop() {
  if (timer) clearInterval(timer);
  timer = null;
  if (tail) tail.close();
  tail = null;
}

function showLogin() {
  stop();
  $('#nav').hidden = true;
  view.hidden = true;
  $('#login').hidden = false;
  $('#password').focus();
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#login-error').textContent = '';
  const r = await fetch('login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ password: $('#password').value }),
    credentials: 'same-origin',
  });
  if (r.ok) {
    $('#password').value = '';
    route();
    return;
  }
  const body = await r.json().catch(() => null);
  $('#login-error').textContent = body && body.error ? body.error.message : `HTTP ${r.status}`;
});

$('#logout').addEventListener('click', async () => {
  await fetch('logout', { method: 'POST', credentials: 'same-origin' });
  showLogin();
});

function card(label, value, id) {
  return el('div', { class: 'card' }, el('div', { class: 'n', id }, value), el('div', { class: 'l' }, label));
}

function fmtUptime(s) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

async function overview() {
  view.replaceChildren(el('h1', {}, 'Overview'), el('div', { class: 'cards', id: 'cards' }), el('h2', {}, 'Nodes'), el('div', { id: 'nodes' }));
  let last = null;
  const refresh = async () => {
    const [info, stats] = await Promise.all([call('info'), call('stats')]);
    const nodes = info.nodes || [];
    const sum = (k) => nodes.reduce((a, n) => a + (n[k] || 0), 0);
    const now = Date.now();
    let inRate = '–', outRate = '–';
    if (last) {
      const dt = (now - last.t) / 1000;
      inRate = ((stats.publications_in - last.in) / dt).toFixed(1);
      outRate = ((stats.publications_out - last.out) / dt).toFixed(1);
    }
    last = { t: now, in: stats.publications_in, out: stats.publications_out };
    $('#cards').replaceChildren(
      card('nodes', nodes.length),
      card('connections', sum('num_clients'), 'num-clients'),
      card('users', sum('num_users')),
      card('subscriptions', sum('num_subs')),
      card('channels', sum('num_channels'), 'num-channels'),
      card('publications in /s', inRate),
      card('deliveries /s', outRate),
      card('dropped (slow)', stats.publications_dropped),
      card('uptime', fmtUptime(nodes.length ? nodes[0].uptime : 0)),
    );
    $('#nodes').replaceChildren(
      el('table', {}, el('tr', {}, el('th', {}, 'name'), el('th', {}, 'version'), el('th', {}, 'clients'), el('th', {}, 'uptime')),
        ...nodes.map((n) => el('tr', {}, el('td', {}, n.name || n.uid), el('td', {}, n.version || ''), el('td', {}, n.num_clients), el('td', {}, fmtUptime(n.uptime || 0))))),
    );
  };
  await refresh();
  timer = setInterval(() => refresh().catch(() => {}), 2000);
}

async function channels() {
  view.replaceChildren(el('h1', {}, 'Channels'), el('p', {}, el('input', { id: 'filter', placeholder: 'pattern, e.g. chat:*' })), el('div', { id: 'list' }));
  const load = async () => {
    const r = await call('channels', { pattern: $('#filter').value || '' });
    const names = Object.keys(r.channels || {}).sort();
    $('#list').replaceChildren(names.length
      ? el('table', { id: 'channel-table' }, el('tr', {}, el('th', {}, 'channel'), el('th', {}, 'subscribers')),
        ...names.map((n) => el('tr', {}, el('td', {}, el('a', { href: `#/channel/${encodeURIComponent(n)}` }, n)), el('td', {}, r.channels[n].num_clients))))
      : el('p', { class: 'muted' }, 'No channel has subscribers.'));
  };
  $('#filter').addEventListener('input', () => load().catch(() => {}));
  await load();
  timer = setInterval(() => load().catch(() => {}), 3000);
}

function publishForm(channel) {
  const status = el('span', { id: 'publish-status', role: 'status' });
  const form = el('form', { id: 'publish-form' },
    el('label', {}, 'Channel', el('input', { id: 'publish-channel', value: channel || '', required: '' })),
    el('label', {}, 'Data (JSON)', el('textarea', { id: 'publish-data', required: '' }, '{"text": "hello"}')),
    el('button', { type: 'submit' }, 'Publish'), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    status.className = '';
    let data;
    try {
      data = JSON.parse($('#publish-data').value);
    } catch (e) {
      status.className = 'error';
      status.textContent = `not JSON: ${e.message}`;
      return;
    }
    try {
      const r = await call('publish', { channel: $('#publish-channel').value, data });
      status.className = 'ok';
      status.textContent = r && r.offset ? `published (offset ${r.offset})` : 'published';
    } catch (e) {
      status.className = 'error';
      status.textContent = e.message;
    }
  });
  return form;
}

function startTail(channel, out) {
  const line = (t) => {
    out.append(el('div', {}, t));
    out.scrollTop = out.scrollHeight;
  };
  call('tail_token', { channel }).then((t) => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}${t.path}`);
    tail = ws;
    ws.onopen = () => ws.send(`${JSON.stringify({ id: 1, connect: { token: t.token, name: 'lucent-admin' } })}\n${JSON.stringify({ id: 2, subscribe: { channel, token: t.sub_token } })}`);
    ws.onmessage = (ev) => {
      for (const text of String(ev.data).split('\n')) {
        if (!text) continue;
        const m = JSON.parse(text);
        if (Object.keys(m).length === 0) {
          ws.send('{}'); // ping
        } else if (m.id === 2 && m.subscribe) {
          line('— live: waiting for publications —');
        } else if (m.error) {
          line(`error ${m.error.code}: ${m.error.message}`);
        } else if (m.push && m.push.pub) {
          const p = m.push.pub;
          line(`${new Date().toLocaleTimeString()}  ${JSON.stringify(p.data)}${p.info ? `  (from ${p.info.user})` : ''}`);
        }
      }
    };
    ws.onclose = (ev) => line(`— tail closed${ev.code ? ` (${ev.code} ${ev.reason})` : ''} —`);
  }).catch((e) => line(`live tail unavailable: ${e.message}`));
}

async function channel(name) {
  const out = el('div', { class: 'tail', id: 'tail', 'aria-live': 'polite' });
  view.replaceChildren(el('h1', {}, name),
    el('h2', {}, 'Live'), out,
    el('h2', {}, 'Publish'), publishForm(name),
    el('h2', {}, 'Presence'), el('div', { id: 'presence' }, '…'),
    el('h2', {}, 'History'), el('div', { id: 'history' }, '…'));
  startTail(name, out);
  call('presence', { channel: name }).then((r) => {
    const ps = Object.values(r.presence || {});
    $('#presence').replaceChildren(ps.length
      ? el('table', {}, el('tr', {}, el('th', {}, 'user'), el('th', {}, 'client')),
        ...ps.map((p) => el('tr', {}, el('td', {}, el('a', { href: `#/user/${encodeURIComponent(p.user)}` }, p.user || '(anonymous)')), el('td', {}, p.client))))
      : el('p', { class: 'muted' }, 'Nobody present.'));
  }).catch((e) => $('#presence').replaceChildren(el('p', { class: 'muted' }, e.message)));
  call('history', { channel: name, limit: 20, reverse: true }).then((r) => {
    const pubs = r.publications || [];
    $('#history').replaceChildren(pubs.length
      ? el('table', {}, el('tr', {}, el('th', {}, 'offset'), el('th', {}, 'data')),
        ...pubs.map((p) => el('tr', {}, el('td', {}, p.offset || ''), el('td', {}, el('pre', {}, JSON.stringify(p.data))))))
      : el('p', { class: 'muted' }, 'No history kept.'));
  }).catch((e) => $('#history').replaceChildren(el('p', { class: 'muted' }, e.message)));
}

async function user(name) {
  const form = el('form', { id: 'user-form' }, el('label', {}, 'User id', el('input', { id: 'user-id', value: name || '' })), el('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/user/${encodeURIComponent($('#user-id').value)}`;
  });
  view.replaceChildren(el('h1', {}, name ? `User ${name}` : 'Users'), form, el('div', { id: 'conns' }));
  if (!name) return;
  const load = async () => {
    const r = await call('connections', { user: name });
    const cs = r.connections || [];
    $('#conns').replaceChildren(cs.length
      ? el('table', { id: 'conn-table' }, el('tr', {}, el('th', {}, 'client'), el('th', {}, 'transport'), el('th', {}, 'channels'), el('th', {}, '')),
        ...cs.map((c) => el('tr', {}, el('td', {}, c.client), el('td', {}, c.transport), el('td', {}, c.channels.join(', ')),
          el('td', {}, el('button', { class: 'danger', type: 'button', onclick: async () => {
            await call('disconnect', { user: name, client: c.client });
            setTimeout(() => load().catch(() => {}), 300);
          } }, 'Disconnect')))))
      : el('p', { class: 'muted' }, 'No live connection.'));
  };
  await load();
}

// The playground: one command of one user through the running server's decision pipeline, with
// the steps `lucent explain` prints and the reply the client would get.
function parseCommand(line) {
  const m = line.trim().match(/^(\S+)(?:\s+(\S+))?(?:\s+([\s\S]+))?$/);
  if (!m) return null;
  const [, command, second, rest] = m;
  // connect [DATA], refresh: no target; the rest takes a channel or method first
  if (command === 'connect' || command === 'refresh') return { command, data: [second, rest].filter(Boolean).join(' ') || undefined };
  return { command, target: second, data: rest };
}

function shellQuote(s) {
  return /^[\w.:@%+=,/#$-]+$/.test(s) && !s.startsWith('$') ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

async function playground() {
  const out = el('div', { id: 'pg-out' });
  const form = el('form', { id: 'pg-form' },
    el('label', {}, 'User', el('input', { id: 'pg-user', placeholder: 'e.g. 42 (empty: anonymous)' })),
    el('label', {}, 'Claims (JSON, optional: signed into the token)', el('textarea', { id: 'pg-claims', placeholder: '{"sub": "42", "info": {"name": "Ann"}}' })),
    el('label', {}, 'Command', el('input', { id: 'pg-command', required: '', list: 'pg-examples', placeholder: 'subscribe orders.1' })),
    el('datalist', { id: 'pg-examples' },
      ...['connect', 'refresh', 'subscribe CHANNEL', 'sub_refresh CHANNEL', 'publish CHANNEL {"text":"hi"}', 'rpc METHOD {}'].map((v) => el('option', { value: v }))),
    el('label', { class: 'check' }, el('input', { id: 'pg-subscribed', type: 'checkbox' }), 'publish: the client is subscribed'),
    el('label', { class: 'check' }, el('input', { id: 'pg-no-proxy', type: 'checkbox' }), 'no proxy (--no-proxy)'),
    el('label', { class: 'check' }, el('input', { id: 'pg-at-expiry', type: 'checkbox' }), 'refresh, sub_refresh: at expiry, asking the refresh proxy (--at-expiry)'),
    el('button', { type: 'submit' }, 'Explain'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const cmd = parseCommand($('#pg-command').value);
    if (!cmd) return;
    const params = { ...cmd, user: $('#pg-user').value, subscribed: $('#pg-subscribed').checked, no_proxy: $('#pg-no-proxy').checked, at_expiry: $('#pg-at-expiry').checked };
    const claims = $('#pg-claims').value.trim();
    try {
      if (params.data !== undefined) params.data = JSON.parse(params.data);
      if (claims) params.claims = JSON.parse(claims);
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', id: 'pg-error' }, `not JSON: ${e.message}`));
      return;
    }
    out.replaceChildren(el('p', { class: 'muted' }, 'running…'));
    try {
      const r = await call('playground', params);
      const cli = ['lucent explain -c CONFIG', params.user ? `--user ${shellQuote(params.user)}` : '', claims ? `--claims ${shellQuote(JSON.stringify(params.claims))}` : '',
        params.subscribed ? '--subscribed' : '', params.no_proxy ? '--no-proxy' : '', params.at_expiry ? '--at-expiry' : '', cmd.command, cmd.target ? shellQuote(cmd.target) : '',
        cmd.data !== undefined ? shellQuote(JSON.stringify(params.data)) : ''].filter(Boolean).join(' ');
      out.replaceChildren(
        el('p', { id: 'pg-verdict', class: r.allowed ? 'ok' : 'error' }, r.allowed ? 'allowed' : r.exit_code === 2 ? 'could not decide' : 'refused'),
        el('h2', {}, 'Steps'), el('pre', { id: 'pg-trace', class: 'tail' }, r.trace.join('\n')),
        ...(r.user !== null ? [el('p', { id: 'pg-user-out' }, `user: "${r.user}"${r.user ? '' : ' (anonymous)'}`)] : []),
        el('h2', {}, params.at_expiry ? 'What the client sees' : 'Reply the client gets'), el('pre', { id: 'pg-reply', class: 'tail' }, typeof r.reply === 'string' ? r.reply : JSON.stringify(r.reply)),
        el('p', { class: 'muted' }, 'The same from a shell: ', el('code', {}, cli)));
    } catch (e) {
      out.replaceChildren(el('p', { class: 'error', id: 'pg-error' }, e.message));
    }
  });
  view.replaceChildren(el('h1', {}, 'Playground'),
    el('p', { class: 'muted' }, 'Runs one decision with this server\'s config, Lua hooks and proxies (a hook\'s lucent.publish publishes for real) and shows every step.'),
    form, out);
}

async function route() {
  stop();
  $('#login').hidden = true;
  $('#nav').hidden = false;
  view.hidden = false;
  const h = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  try {
    if (h.startsWith('channel/')) await channel(h.slice(8));
    else if (h === 'channels') await channels();
    else if (h === 'user' || h.startsWith('user/')) await user(h.slice(5));
    else if (h === 'playground') await playground();
    else await overview();
  } catch (e) {
    if (e.message !== 'log in first') view.replaceChildren(el('p', { class: 'error' }, e.message));
  }
}

window.addEventListener('hashchange', route);
route();
