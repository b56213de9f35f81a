// Fogline dashboard: plain ES module, no build step. Data: /api/* (JSON) and /api/stream (SSE).
const $ = (sel) => document.querySelector(sel)
const nodes = new Map() // nodeId → node row from /api/nodes or the `node` SSE event
const charts = new Map() // `${sensorId}/${metric}` → { plot, rows } on the open node page
const MAX_POINTS = 600
let currentNode = null
let uPlotMod = null // loaded lazily; the page still works (without charts) if the vendor file is missing

/** Read by the browser tests: what each chart is drawing. */
window.__fogline = { charts: () => Object.fromEntries([...charts].map(([k, c]) => [k, c.rows])) }

// The API token lives in sessionStorage: it is gone when the tab closes, and never sent by the browser on
// its own (no cookie), so another site cannot make requests with it.
const TOKEN_KEY = 'fogline.token'
let role = null // 'viewer' | 'operator' | 'admin' once signed in
const canOperate = () => role === 'operator' || role === 'admin'

async function api(url, init = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY)
  const res = await fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } })
  if (res.status === 401) {
    signOut('the token was refused (revoked or wrong); sign in again')
    throw new Error('signed out')
  }
  return res
}

async function getJson(url) {
  const res = await api(url)
  if (res.status === 404) return undefined
  if (!res.ok) {
    // the API answers every error as { error: { code, message, where } }
    const body = await res.json().catch(() => null)
    throw new Error(body?.error ? fmtError(body.error) : `${url}: HTTP ${res.status}`)
  }
  return res.json()
}

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn)
    else if (v !== undefined && v !== null) e.setAttribute(k, String(v))
  }
  for (const kid of kids) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid ?? '')))
  return e
}

/** An error as data `{ code, message, where }` in one line: code, sentence, and where (file, field, topic). */
const fmtError = (e) => {
  if (!e || typeof e !== 'object') return String(e ?? '')
  const where = Object.entries(e.where ?? {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  return `${e.code}: ${e.message}${where ? ` (${where})` : ''}`
}

const fmtAge = (ms) => {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`
  return `${Math.round(ms / 60_000)} min`
}
const fmtNum = (n, d = 1) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : '–')
const fmtSince = (ts) => (ts ? `${fmtAge(Date.now() - ts)} ago` : '–')
// each anomaly model the node holds: name, version and when it was trained ("untrained": written by hand)
const fmtModels = (models) => {
  const list = Object.entries(models ?? {})
  if (list.length === 0) return '–'
  return list
    .map(
      ([name, m]) =>
        `${name} v${m.version} ${m.trainedAt ? `trained ${fmtSince(m.trainedAt)}` : 'untrained'}`,
    )
    .join(', ')
}
const fmtUntil = (ts) => (ts > Date.now() ? `in ${fmtAge(ts - Date.now())}` : 'now')
const sumDrops = (d) => Object.values(d ?? {}).reduce((a, b) => a + (Number(b) || 0), 0)

// ---- fleet table ----
function renderFleet() {
  const body = $('#fleet tbody')
  body.replaceChildren()
  for (const n of [...nodes.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
    const drops = sumDrops(n.dropped)
    const row = el(
      'tr',
      { 'data-node': n.nodeId, 'data-online': n.online, 'data-backlog': n.backlogRecords ?? 0 },
      el('td', {}, el('a', { href: `#/node/${encodeURIComponent(n.nodeId)}` }, n.nodeId)),
      el(
        'td',
        {},
        el('span', { class: n.online ? 'dot on' : 'dot', title: n.online ? 'online' : 'offline' }),
        n.online ? ' online' : ' offline',
      ),
      el('td', {}, fmtSince(n.lastSeen)),
      el('td', { class: 'num' }, fmtNum(n.readingsPerSec)),
      el('td', { class: 'num backlog' }, n.backlogRecords ?? 0),
      el('td', { class: 'num' }, fmtAge(n.oldestUnsentAgeMs)),
      el(
        'td',
        { class: 'num' },
        n.etaSec === null || n.etaSec === undefined ? '–' : `${fmtNum(n.etaSec, 0)} s`,
      ),
      // the node's prediction of when its outbox fills (ops predictor), ahead of the first drop
      el(
        'td',
        {
          class: 'num full-at',
          title: n.outboxFullAt ? new Date(n.outboxFullAt).toISOString() : 'not predicted',
        },
        n.outboxFullAt ? fmtUntil(n.outboxFullAt) : '–',
      ),
      el('td', { class: 'num', title: JSON.stringify(n.dropped ?? {}) }, drops),
      el(
        'td',
        { class: 'num', title: 'summaries / events stored in the cloud' },
        `${n.summaries ?? 0} / ${n.events ?? 0}`,
      ),
      el(
        'td',
        {
          class: 'num bad-input',
          title: `malformed ${n.malformed ?? 0}, oversize ${n.oversize ?? 0}, refused logins ${n.authFailures ?? 0}`,
        },
        (n.malformed ?? 0) + (n.oversize ?? 0) + (n.authFailures ?? 0),
      ),
      el('td', {}, n.configVersion ?? '–'),
      el('td', { class: 'models' }, fmtModels(n.models)),
      el('td', {}, canOperate() ? linkButton(n) : ''),
    )
    body.append(row)
  }
}

const linkState = new Map() // nodeId → true (up) | false (cut), as last set from this page
function linkButton(n) {
  const cut = linkState.get(n.nodeId) === false
  return el(
    'button',
    {
      class: 'link',
      'data-node': n.nodeId,
      on: {
        click: async (e) => {
          const btn = e.currentTarget
          btn.disabled = true
          const res = await api(`/api/demo/nodes/${encodeURIComponent(n.nodeId)}/link`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ up: cut }),
          })
          if (res.ok) linkState.set(n.nodeId, cut)
          else
            btn.title = res.status === 404 ? 'demo link control is off on this cloud' : `HTTP ${res.status}`
          btn.disabled = false
          renderFleet()
          if (currentNode === n.nodeId) renderNodeStats()
        },
      },
    },
    cut ? 'restore uplink' : 'cut uplink',
  )
}

async function renderDesired() {
  const box = $('#desired')
  // GET /api/desired needs ?group= (or ?node=): ask once per group in the fleet; 404 = control routes are off
  const groups = [...new Set([...nodes.values()].map((n) => n.group).filter(Boolean))].sort()
  if (groups.length === 0) {
    box.textContent = 'no groups in the fleet yet'
    return
  }
  try {
    const parts = []
    for (const g of groups) {
      const d = await getJson(`/api/desired?group=${encodeURIComponent(g)}`)
      if (d === undefined) {
        box.textContent = 'desired-state control is not enabled on this cloud'
        return
      }
      const versions = (d.versions ?? []).map((v) => `${v.version}${v.status ? ` (${v.status})` : ''}`)
      const applied = (d.nodes ?? []).map((n) => `${n.nodeId}: ${n.appliedVersion ?? '–'}`)
      parts.push(
        el(
          'div',
          { 'data-group': g },
          `group ${g} — current ${d.current?.version ?? 'none'}; versions ${versions.join(', ') || 'none'}; applied ${applied.join(', ') || '–'}`,
        ),
      )
    }
    const rollouts = await getJson('/api/rollouts').catch(() => undefined)
    const list = Array.isArray(rollouts) ? rollouts : (rollouts?.items ?? [])
    for (const r of list)
      parts.push(
        el('div', {}, `rollout ${r.id ?? ''}: version ${r.version ?? '?'} — ${r.status ?? r.state ?? ''}`),
      )
    box.replaceChildren(...parts)
    box.classList.remove('muted')
  } catch (err) {
    box.textContent = `desired state unavailable (${err.message})`
  }
}

// ---- node page ----
function renderNodeStats() {
  const n = nodes.get(currentNode)
  const box = $('#node-stats')
  if (!n) {
    box.textContent = 'unknown node'
    return
  }
  box.replaceChildren(
    el('span', {}, n.online ? 'online' : 'offline'),
    el('span', {}, `group ${n.group ?? '–'}`),
    el('span', {}, `last seen ${fmtSince(n.lastSeen)}`),
    el('span', {}, `${fmtNum(n.readingsPerSec)} readings/s`),
    el('span', { class: 'backlog' }, `backlog ${n.backlogRecords ?? 0}`),
    el('span', {}, `config ${n.configVersion ?? '–'}`),
    el('span', { class: 'models' }, `models ${fmtModels(n.models)}`),
    ...(n.lastError
      ? [el('span', { class: 'last-error', title: n.lastError.code }, `last error: ${fmtError(n.lastError)}`)]
      : []),
    ...(canOperate() ? [linkButton(n)] : []),
  )
}

function chartFor(key) {
  let c = charts.get(key)
  if (c) return c
  const box = el('div', { class: 'chart', 'data-key': key }, el('h4', {}, key))
  $('#charts').append(box)
  c = { rows: [], plot: null, box }
  if (uPlotMod) {
    const width = Math.max(260, box.clientWidth - 10)
    c.plot = new uPlotMod.default(
      {
        width,
        height: 200,
        series: [
          {},
          { label: 'min', stroke: 'rgba(40,110,200,0.3)' },
          { label: 'max', stroke: 'rgba(40,110,200,0.3)' },
          { label: 'mean', stroke: '#1f5fbf', width: 2 },
        ],
        bands: [{ series: [2, 1], fill: 'rgba(40,110,200,0.12)' }],
        axes: [{}, { size: 50 }],
      },
      [[], [], [], []],
      box,
    )
  }
  charts.set(key, c)
  return c
}

function addSummaries(rows) {
  const touched = new Set()
  for (const r of rows) {
    const key = `${r.sensorId}/${r.metric}`
    const c = chartFor(key)
    if (c.rows.some((x) => x.seq === r.seq && x.end === r.end)) continue
    c.rows.push({ seq: r.seq, end: r.end, min: r.min, max: r.max, mean: r.mean })
    touched.add(c)
  }
  for (const c of touched) {
    c.rows.sort((a, b) => a.end - b.end)
    if (c.rows.length > MAX_POINTS) c.rows.splice(0, c.rows.length - MAX_POINTS)
    c.box.dataset.points = String(c.rows.length)
    c.plot?.setData([
      c.rows.map((x) => x.end / 1000),
      c.rows.map((x) => x.min),
      c.rows.map((x) => x.max),
      c.rows.map((x) => x.mean),
    ])
  }
}

function addEvents(rows) {
  const list = $('#events')
  for (const e of rows) {
    const ts = e.ts ?? e.start ?? Date.now()
    const what = [e.kind ?? e.type ?? 'event', e.name].filter(Boolean).join(' ')
    const where = [e.sensorId, e.metric].filter(Boolean).join('/')
    const value = typeof e.value === 'number' ? `= ${Number(e.value.toFixed(3))}` : ''
    const score = typeof e.detail?.score === 'number' ? `(score ${e.detail.score.toFixed(1)})` : ''
    const sev = e.severity && e.severity !== 'info' ? `[${e.severity}]` : ''
    const detail = [where, value, score, sev, e.message ?? e.reason].filter(Boolean).join(' ')
    const li = el('li', {}, `${new Date(ts).toLocaleTimeString()} ${what} ${detail}`)
    if (e.severity) li.dataset.severity = e.severity
    list.prepend(li)
  }
  while (list.children.length > 200) list.lastElementChild.remove()
}

async function openNode(id) {
  currentNode = id
  charts.clear()
  $('#charts').replaceChildren()
  $('#events').replaceChildren()
  $('#node-title').textContent = id
  renderNodeStats()
  const q = `node=${encodeURIComponent(id)}`
  const [sums, evs] = await Promise.all([
    getJson(`/api/summaries?${q}&limit=2000`),
    getJson(`/api/events?${q}&limit=100`),
  ])
  if (currentNode !== id) return
  addSummaries(sums ?? [])
  addEvents([...(evs ?? [])].reverse())
}

function route() {
  if (role === null) return
  const m = /^#\/node\/(.+)$/.exec(location.hash)
  $('#fleet-view').hidden = Boolean(m)
  $('#node-view').hidden = !m
  if (m) openNode(decodeURIComponent(m[1])).catch(showError)
  else {
    currentNode = null
    renderFleet()
    renderDesired()
  }
}

function showError(err) {
  // an unreachable API is a state to show, not a console error
  $('#live').textContent = `error: ${err.message}`
}

// ---- live stream ----
// EventSource cannot send a header: each connection gets a one-use ticket from POST /api/stream/ticket, and a
// dropped stream reconnects with a new ticket (the browser's own retry would reuse the spent one).
let stream = null
async function connect() {
  const res = await api('/api/stream/ticket', { method: 'POST' })
  const { ticket } = await res.json()
  const es = new EventSource(`/api/stream?ticket=${encodeURIComponent(ticket)}`)
  stream = es
  es.onopen = () => {
    $('#live').textContent = 'live'
    $('#live').className = 'live on'
  }
  es.onerror = () => {
    es.close()
    $('#live').textContent = 'reconnecting'
    $('#live').className = 'live off'
    if (stream === es) setTimeout(() => stream === es && connect().catch(showError), 2000)
  }
  es.addEventListener('node', (m) => {
    const n = JSON.parse(m.data)
    nodes.set(n.nodeId, { ...nodes.get(n.nodeId), ...n })
    if (currentNode === null) renderFleet()
    else if (currentNode === n.nodeId) renderNodeStats()
  })
  es.addEventListener('summary', (m) => {
    const r = JSON.parse(m.data)
    if (r.nodeId === currentNode) addSummaries([r])
  })
  es.addEventListener('event', (m) => {
    const r = JSON.parse(m.data)
    if (r.nodeId === currentNode) addEvents([r])
  })
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY)
  role = null
  stream?.close()
  stream = null
  $('#signin-error').textContent = why ?? ''
  showSignIn()
}

function showSignIn() {
  $('#signin').hidden = false
  $('#fleet-view').hidden = true
  $('#node-view').hidden = true
  $('#signout').hidden = true
  $('#who').textContent = ''
}

/** Ask the API who the stored token is; false when there is none or it is refused. */
async function whoAmI() {
  const token = sessionStorage.getItem(TOKEN_KEY)
  if (!token) return false
  const res = await fetch('/api/auth/me', { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) return false
  const me = await res.json()
  role = me.role
  $('#who').textContent = `${me.name} (${me.role})`
  return true
}

async function main() {
  $('#signin-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    sessionStorage.setItem(TOKEN_KEY, $('#token').value.trim())
    $('#token').value = ''
    if (await whoAmI()) start()
    else signOut('that token was refused')
  })
  $('#signout').addEventListener('click', () => signOut())
  if (await whoAmI()) start()
  else showSignIn()
}

let started = false
async function start() {
  $('#signin').hidden = true
  $('#signin-error').textContent = ''
  $('#signout').hidden = false
  if (started) {
    route()
    connect().catch(showError)
    return
  }
  started = true
  try {
    uPlotMod = await import('/vendor/uPlot.esm.js')
    document.head.append(el('link', { rel: 'stylesheet', href: '/vendor/uPlot.min.css' }))
  } catch {
    uPlotMod = null
  }
  try {
    for (const n of (await getJson('/api/nodes')) ?? []) nodes.set(n.nodeId, n)
  } catch (err) {
    showError(err)
  }
  window.addEventListener('hashchange', route)
  route()
  connect().catch(showError)
  // "last seen" ages keep moving without events
  setInterval(() => (currentNode === null ? renderFleet() : renderNodeStats()), 2000)
}

main()
