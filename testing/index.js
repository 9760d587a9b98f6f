'use strict'
// A fake LaunchDarkly for tests: the releases-beta endpoints on 127.0.0.1, behaving as the
// real API does (auth, the beta header, 404s, patch validation, rate limits), with fault
// injection. Plain JavaScript on Node's built-ins.

const http = require('node:http')
const { randomBytes } = require('node:crypto')

const BETA_MESSAGE = 'This API is in beta. To use it, set the LD-API-Version header to beta.'
const PHASE_STATUSES = ['NotStarted', 'ReadyToStart', 'Started', 'Paused', 'Complete']

const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)))
const keyOf = (projectKey, flagKey) => JSON.stringify([projectKey, flagKey])

/** A realistic release of a legacy three-phase pipeline, with fixed ids and timestamps. */
function sampleRelease(overrides = {}) {
  const created = 1764300000000
  const env = (key, name, color) => ({ _links: { site: { href: `/settings/projects/web/environments/${key}`, type: 'text/html' } }, key, name, color })
  const phase = (index, name, envs, started) => ({
    _id: `6650a1b2c3d4e5f60718293${index}`,
    _name: name,
    complete: false,
    _creationDate: created + index * 60000,
    _audiences: envs.map(([key, envName, color], j) => ({
      _id: `6650a1b2c3d4e5f6071829a${index}${j}`.slice(0, 24),
      name: envName,
      environment: env(key, envName, color),
      configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false },
      segmentKeys: [],
      status: started ? 'active' : 'inactive',
    })),
    status: started ? 'Started' : 'NotStarted',
    started,
    ...(started ? { _startedDate: created + 3600000 } : {}),
    configuration: {},
  })
  return {
    _links: { self: { href: '/api/v2/flags/web/new-checkout/release', type: 'application/json' } },
    name: 'Standard rollout',
    releasePipelineKey: 'standard-rollout',
    releasePipelineDescription: 'Test first, then staging, then everyone',
    phases: [
      phase(0, 'Testing', [['test', 'Test', 'f5a623']], true),
      phase(1, 'Staging', [['staging', 'Staging', '7b42bc']], false),
      phase(2, 'Production', [['production', 'Production', '417505']], false),
    ],
    _version: 1,
    _releaseVariationId: null,
    ...overrides,
  }
}

/** Starts the fake on 127.0.0.1. See index.d.ts for the options and what it returns. */
async function startFakeLaunchDarkly(options = {}) {
  const apiKey = options.apiKey ?? `api-fake-${randomBytes(12).toString('hex')}`
  const requireBetaHeader = options.requireBetaHeader ?? true
  const rateLimit = options.rateLimit ? { limit: options.rateLimit.limit, windowMs: options.rateLimit.windowMs ?? 10000 } : null
  const releases = new Map()
  const faults = []
  const windows = new Map() // route -> { start, count }
  const requests = []
  let rateLimited = 0
  let closed = false

  for (const { projectKey, flagKey, release } of options.releases ?? []) releases.set(keyOf(projectKey, flagKey), clone(release))

  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const record = { method: req.method, path: req.url, headers: flatHeaders(req), rawHeaders: [...req.rawHeaders], body, receivedAt: Date.now() }
      try {
        record.json = body ? JSON.parse(body) : undefined
      } catch {
        // not JSON: left undefined
      }
      requests.push(record)
      handle(req, res, body).catch((err) => {
        if (!res.headersSent) send(res, 500, { code: 'internal_error', message: String(err && err.message) })
        else res.destroy()
      })
    })
  })

  async function handle(req, res, body) {
    const route = parseRoute(req)
    const fault = takeFault(req.method, route ? route.path : decodeSafe(req.url.split('?')[0]))
    if (fault && (await applyFault(fault, req, res))) return

    const limitHeaders = rateLimit && route ? countRate(route.name) : null
    if (limitHeaders && limitHeaders.over) {
      rateLimited++
      return send(res, 429, { code: 'rate_limited', message: 'You have been rate limited.' }, limitHeaders.headers)
    }
    const extra = limitHeaders ? limitHeaders.headers : {}

    if (req.headers.authorization !== apiKey) {
      return send(res, 401, { code: 'unauthorized', message: 'Invalid access token' }, extra)
    }
    if (requireBetaHeader && firstHeader(req, 'ld-api-version') !== 'beta') {
      return send(res, 403, { code: 'forbidden', message: BETA_MESSAGE }, extra)
    }
    if (!route) return send(res, 404, { code: 'not_found', message: 'Invalid resource identifier' }, extra)

    let method = req.method
    if (method === 'POST' && route.name === 'release' && String(req.headers['x-http-method-override']).toUpperCase() === 'PATCH') {
      method = 'PATCH'
    }
    const key = keyOf(route.projectKey, route.flagKey)
    const release = releases.get(key)

    if (route.name === 'create' && method === 'PUT') {
      const input = readJson(req, body)
      if (input.error) return send(res, 400, invalid(input.error), extra)
      if (!input.value || typeof input.value !== 'object' || typeof input.value.releasePipelineKey !== 'string' || !input.value.releasePipelineKey) {
        return send(res, 400, invalid('releasePipelineKey is required'), extra)
      }
      const created = sampleRelease({ releasePipelineKey: input.value.releasePipelineKey, _releaseVariationId: input.value.releaseVariationId ?? null })
      releases.set(key, created)
      return send(res, 200, created, extra)
    }
    if (!release) return send(res, 404, { code: 'not_found', message: `No release for flag ${route.flagKey} in project ${route.projectKey}` }, extra)

    if (route.name === 'release' && method === 'GET') return send(res, 200, release, extra)
    if (route.name === 'release' && method === 'DELETE') {
      releases.delete(key)
      res.writeHead(204, extra)
      return res.end()
    }
    if (route.name === 'release' && method === 'PATCH') {
      const input = readJson(req, body)
      if (input.error) return send(res, 400, invalid(input.error), extra)
      const problem = applyPatch(release, input.value)
      if (problem) return send(res, 400, invalid(problem), extra)
      return send(res, 200, release, extra)
    }
    if (route.name === 'phase' && method === 'PUT') {
      const input = readJson(req, body)
      if (input.error) return send(res, 400, invalid(input.error), extra)
      const phase = release.phases.find((p) => p._id === route.phaseId)
      if (!phase) return send(res, 404, { code: 'not_found', message: `Unknown phase ${route.phaseId}` }, extra)
      const status = input.value && input.value.status
      if (status !== undefined && !PHASE_STATUSES.includes(status)) return send(res, 400, invalid(`status must be one of ${PHASE_STATUSES.join(', ')}`), extra)
      if (status) setStatus(phase, status)
      release._version++
      return send(res, 200, release, extra)
    }
    return send(res, 405, { code: 'method_not_allowed', message: `${req.method} is not allowed here` }, extra)
  }

  function applyPatch(release, ops) {
    if (!Array.isArray(ops) || ops.length === 0) return 'the body must be a non-empty JSON Patch array'
    const draft = clone(release)
    for (const [i, op] of ops.entries()) {
      if (!op || typeof op !== 'object') return `operation ${i} is not an object`
      const complete = /^\/phases\/(\d+)\/complete$/.exec(op.path ?? '')
      const id = /^\/phases\/(\d+)\/_id$/.exec(op.path ?? '')
      const match = complete ?? (op.op === 'test' ? id : null)
      if (!match) return `operation ${i}: path ${JSON.stringify(op.path)} cannot be changed; only /phases/<n>/complete`
      const phase = draft.phases[Number(match[1])]
      if (!phase) return `operation ${i}: there is no phase ${match[1]}`
      if (!('value' in op)) return `operation ${i}: value is required`
      if (op.op === 'test') {
        const actual = complete ? phase.complete : phase._id
        if (actual !== op.value) return `operation ${i}: test failed at ${op.path}`
        continue
      }
      if (op.op !== 'replace') return `operation ${i}: op ${JSON.stringify(op.op)} is not supported; use replace`
      if (typeof op.value !== 'boolean') return `operation ${i}: value must be a boolean`
      setComplete(draft, Number(match[1]), op.value)
    }
    draft._version++
    Object.assign(release, draft)
    return null
  }

  function setComplete(release, index, complete) {
    const phase = release.phases[index]
    if (complete) {
      phase.complete = true
      phase.status = 'Complete'
      phase._completionDate = Date.now()
      phase._completedBy = { token: { _links: {}, _id: 'fake-token-id', name: 'fake token', ending: apiKey.slice(-4), serviceToken: false } }
      const next = release.phases[index + 1]
      if (next && !next.started) {
        next.started = true
        next.status = 'Started'
        next._startedDate = Date.now()
      }
    } else {
      phase.complete = false
      phase.status = 'Started'
      delete phase._completionDate
      delete phase._completedBy
    }
  }

  function setStatus(phase, status) {
    phase.status = status
    if (status === 'Started' && !phase.started) {
      phase.started = true
      phase._startedDate = Date.now()
    }
    if (status === 'Complete') {
      phase.complete = true
      phase._completionDate = Date.now()
    }
  }

  function countRate(name) {
    const now = Date.now()
    let w = windows.get(name)
    if (!w || now >= w.start + rateLimit.windowMs) {
      w = { start: w ? w.start + Math.floor((now - w.start) / rateLimit.windowMs) * rateLimit.windowMs : now, count: 0 }
      windows.set(name, w)
    }
    w.count++
    const remaining = Math.max(0, rateLimit.limit - w.count)
    return {
      over: w.count > rateLimit.limit,
      headers: {
        'X-Ratelimit-Route-Remaining': String(remaining),
        'X-Ratelimit-Global-Remaining': String(remaining),
        'X-Ratelimit-Reset': String(w.start + rateLimit.windowMs),
      },
    }
  }

  function takeFault(method, path) {
    const index = faults.findIndex((f) => (!f.match?.method || f.match.method === method) && (!f.match?.path || f.match.path === path))
    if (index < 0) return null
    const fault = faults[index]
    if (--fault.remaining <= 0) faults.splice(index, 1)
    return fault
  }

  async function applyFault(fault, req, res) {
    if (fault.delayMs) await sleep(fault.delayMs)
    if (closed) return true
    if (fault.stallMs) {
      await sleep(fault.stallMs)
      res.destroy()
      return true
    }
    if (fault.drop === 'before-response') {
      req.socket.destroy()
      return true
    }
    if (fault.drop === 'mid-body') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096', ...fault.headers })
      res.write('{"name":"Standard rollout","phases":[')
      setTimeout(() => res.destroy(), 20)
      return true
    }
    if (fault.malformed) {
      res.writeHead(200, { 'content-type': 'application/json', ...fault.headers })
      res.end('{"name": "Standard rollout", "phases": [')
      return true
    }
    if (fault.oversizeBytes) {
      await streamOversize(res, fault.oversizeBytes, fault.headers)
      return true
    }
    if (fault.trickleMs) {
      const text = JSON.stringify(sampleRelease())
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...fault.headers })
      for (let i = 0; i < text.length && !res.destroyed && !closed; i += 16) {
        res.write(text.slice(i, i + 16))
        await sleep(fault.trickleMs)
      }
      res.end()
      return true
    }
    if (fault.status) {
      let body = fault.body ?? { code: defaultCode(fault.status), message: `Injected ${fault.status}` }
      let type = fault.contentType
      if (typeof body !== 'string') {
        body = JSON.stringify(body)
        type ??= 'application/json'
      } else {
        type ??= body.trimStart().startsWith('<') ? 'text/html' : 'text/plain'
      }
      res.writeHead(fault.status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...stringify(fault.headers) })
      res.end(body)
      return true
    }
    return false // a pure delay: handle the request normally
  }

  server.keepAliveTimeout = 1000
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', resolve)
  })
  const port = server.address().port

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    apiKey,
    requests,
    get rateLimited() {
      return rateLimited
    },
    setRelease(projectKey, flagKey, release) {
      releases.set(keyOf(projectKey, flagKey), clone(release))
    },
    getRelease(projectKey, flagKey) {
      return clone(releases.get(keyOf(projectKey, flagKey)))
    },
    deleteRelease(projectKey, flagKey) {
      return releases.delete(keyOf(projectKey, flagKey))
    },
    clearRequests() {
      requests.length = 0
    },
    injectFault(fault) {
      faults.push({ ...fault, remaining: fault.times ?? 1 })
    },
    close() {
      if (closed) return Promise.resolve()
      closed = true
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

function parseRoute(req) {
  const path = req.url.split('?')[0]
  const parts = path.split('/').slice(1)
  const dec = (s) => decodeSafe(s)
  // /api/v2/flags/{p}/{f}/release
  if (parts.length === 6 && parts[0] === 'api' && parts[1] === 'v2' && parts[2] === 'flags' && parts[5] === 'release') {
    const [projectKey, flagKey] = [dec(parts[3]), dec(parts[4])]
    return { name: 'release', projectKey, flagKey, path: `/api/v2/flags/${projectKey}/${flagKey}/release` }
  }
  // /api/v2/projects/{p}/flags/{f}/release[/phases/{id}]
  if (parts.length >= 7 && parts[0] === 'api' && parts[1] === 'v2' && parts[2] === 'projects' && parts[4] === 'flags' && parts[6] === 'release') {
    const [projectKey, flagKey] = [dec(parts[3]), dec(parts[5])]
    const base = `/api/v2/projects/${projectKey}/flags/${flagKey}/release`
    if (parts.length === 7) return { name: 'create', projectKey, flagKey, path: base }
    if (parts.length === 9 && parts[7] === 'phases') {
      const phaseId = dec(parts[8])
      return { name: 'phase', projectKey, flagKey, phaseId, path: `${base}/phases/${phaseId}` }
    }
  }
  return null
}

function decodeSafe(s) {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

function flatHeaders(req) {
  const out = {}
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase()
    out[name] = name in out ? `${out[name]}, ${req.rawHeaders[i + 1]}` : req.rawHeaders[i + 1]
  }
  return out
}

function firstHeader(req, name) {
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() === name) return req.rawHeaders[i + 1]
  }
  return undefined
}

function readJson(req, body) {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return { error: 'Content-Type must be application/json' }
  try {
    return { value: JSON.parse(body) }
  } catch {
    return { error: 'the body is not valid JSON' }
  }
}

function invalid(message) {
  return { code: 'invalid_request', message }
}

function defaultCode(status) {
  return (
    { 400: 'invalid_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 422: 'unprocessable_entity', 429: 'rate_limited' }[status] ??
    (status >= 500 ? 'internal_server_error' : 'error')
  )
}

function stringify(headers = {}) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]))
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers })
  res.end(text)
}

async function streamOversize(res, bytes, headers) {
  res.writeHead(200, { 'content-type': 'application/json', ...stringify(headers) })
  const chunk = Buffer.alloc(64 * 1024, 0x20)
  res.write('{"name":"')
  let sent = 0
  while (sent < bytes && !res.destroyed) {
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve))
    sent += chunk.length
  }
  if (!res.destroyed) res.end('"}')
}

// Unref'd: a closed fake must not keep its process alive for a pending delay or stall.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())

module.exports = { startFakeLaunchDarkly, sampleRelease }
