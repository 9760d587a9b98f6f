'use strict'
// A fake LaunchDarkly for tests: the releases-beta endpoints on 127.0.0.1, behaving as the
// real API does (auth, the beta header, 404s, patch validation, rate limits), with fault
// injection. Plain JavaScript on Node's built-ins.

const http = require('node:http')
const { inspect } = require('node:util')
const { createHash, randomBytes } = require('node:crypto')
const { parseEnvironmentRoute, createEnvironments } = require('./environments.js')

/** LaunchDarkly's words for a missing beta header, as recorded. */
const BETA_MESSAGE = 'This API is in beta. To use it, your request must include the header `LD-API-Version: beta`.'
const PHASE_STATUSES = ['NotStarted', 'ReadyToStart', 'Started', 'Paused', 'Complete']
const ACTIVE_ONLY_MESSAGE = 'Phase status can only be manually updated to `Active`.'
const LEGACY_ONLY_MESSAGE = 'Updating a release with a JSON patch is only available for releases that are part of a legacy release pipeline'
const DEFAULT_WINDOW_MS = 10000
/** The account-wide limit per window when a test sets none: high enough never to bind. */
const DEFAULT_GLOBAL_LIMIT = 100000
/** The window of the access token's limit when a test sets none: 60 s, as recorded. */
const DEFAULT_TOKEN_WINDOW_MS = 60000
const MAX_PIPELINES = 20

const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)))
const keyOf = (projectKey, flagKey) => JSON.stringify([projectKey, flagKey])
const releaseHref = (projectKey, flagKey) => `/api/v2/flags/${encodeURIComponent(projectKey)}/${encodeURIComponent(flagKey)}/release`

/** A realistic release of a legacy three-phase pipeline, with fixed ids and timestamps. */
function sampleRelease(overrides = {}) {
  const created = 1764300000000
  const env = (key, name, color) => ({
    _links: {
      self: { href: `/api/v2/projects/web/environments/${key}`, type: 'application/json' },
      site: { href: `/settings/projects/web/environments/${key}`, type: 'text/html' },
    },
    key,
    name,
    color,
  })
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

/** The environments of the sample pipelines: key, name, color. */
const SAMPLE_ENVIRONMENTS = [
  ['test', 'Test', 'f5a623'],
  ['staging', 'Staging', '7b42bc'],
  ['production', 'Production', '417505'],
]

/**
 * A release of a new (non-legacy) release pipeline as LaunchDarkly answers it: the first
 * phase active, the others sparse (`_id`, `_name`, `complete`, `status`, `started`: no
 * `_creationDate`, no `_audiences`), environments without `_links`, kebab-case statuses,
 * no `_links` on the release. Fixed ids and timestamps.
 */
function sampleNewPipelineRelease(overrides = {}) {
  const started = 1766084905114
  const [first, ...rest] = newPipelinePhases()
  return {
    name: 'Progressive rollout',
    releasePipelineKey: 'progressive-rollout',
    releasePipelineDescription: '',
    phases: [startedPhase(first, 0, started), ...rest.map((phase) => unstartedPhase(phase))],
    _version: 0,
    _releaseVariationId: '6650a1b2c3d4e5f6071829ff',
    ...overrides,
  }
}

/** The phases of the sample new pipeline: ids, names and environments. */
function newPipelinePhases() {
  return ['QA', 'Beta', 'General availability'].map((name, i) => ({
    id: `7750b1c2d3e4f5a60718293${i}`,
    name,
    environments: [SAMPLE_ENVIRONMENTS[i]],
  }))
}

/** A sparse phase, as new pipelines answer one that has not started. */
function unstartedPhase(phase, index = 1) {
  return { _id: phase.id, _name: phase.name, complete: false, status: index === 0 ? 'ready-to-start' : 'not-started', started: false }
}

/** A phase of a new pipeline once started: its audiences appear, environments without `_links`. */
function startedPhase(phase, index, at) {
  return {
    _id: phase.id,
    _name: phase.name,
    complete: false,
    status: 'active',
    started: true,
    _creationDate: at,
    _startedDate: at,
    _audiences: phase.environments.map(([key, envName, color], j) => ({
      _id: `${phase.id.slice(0, 20)}aa${index}${j}`,
      name: envName,
      environment: { key, name: envName, color },
      configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false },
      status: 'active',
    })),
    configuration: {},
  }
}

/**
 * The releases `ld-release fake` serves and the README's examples use, all in project
 * `web`: `new-checkout`, `dark-mode` and `search-v2` in the legacy pipeline
 * (`sampleRelease()`), `progressive-checkout` and `progressive-search` in the new one
 * (`sampleNewPipelineRelease()`). A fresh copy at each call, as `releases` takes them.
 */
function sampleReleases() {
  const legacy = (flagKey) => sampleRelease({ _links: { self: { href: releaseHref('web', flagKey), type: 'application/json' } } })
  return [
    ...['new-checkout', 'dark-mode', 'search-v2'].map((flagKey) => ({ projectKey: 'web', flagKey, release: legacy(flagKey) })),
    ...['progressive-checkout', 'progressive-search'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleNewPipelineRelease() })),
  ]
}

/**
 * An environment as a pipeline's audience shows it, with every field the samples have
 * (`key`, `name`, `color`): a sample environment's own, else the key as its name and a
 * color made from it.
 */
function environmentOf(key) {
  const sample = SAMPLE_ENVIRONMENTS.find(([k]) => k === key)
  if (sample) return { key, name: sample[1], color: sample[2] }
  return { key, name: key, color: createHash('sha256').update(String(key)).digest('hex').slice(0, 6) }
}

/** A release pipeline as LaunchDarkly answers `GET .../release-pipelines/{key}`. */
function pipelineOf({ key, name, description, legacy, phases, isProjectDefault = false }) {
  return {
    _links: { self: { href: `/api/v2/projects/web/release-pipelines/${key}`, type: 'application/json' } },
    key,
    name,
    description,
    createdAt: '2025-09-16T22:01:04.602697Z',
    phases: phases.map((phase) => ({
      id: phase.id,
      name: phase.name,
      audiences: phase.environments.map(([envKey, envName, color]) => ({
        name: envName,
        environment: { key: envKey, name: envName, color },
        configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false },
      })),
    })),
    tags: [],
    _version: 1,
    _isLegacy: legacy,
    isProjectDefault,
  }
}

/** The legacy pipeline of `sampleRelease()`: `standard-rollout`, `_isLegacy: true`. */
function samplePipeline(overrides = {}) {
  const phases = sampleRelease().phases.map((p, i) => ({ id: p._id, name: p._name, environments: [SAMPLE_ENVIRONMENTS[i]] }))
  return { ...pipelineOf({ key: 'standard-rollout', name: 'Standard rollout', description: 'Test first, then staging, then everyone', legacy: true, phases, isProjectDefault: true }), ...overrides }
}

/** The new pipeline of `sampleNewPipelineRelease()`: `progressive-rollout`, `_isLegacy: false`. */
function sampleNewPipeline(overrides = {}) {
  return { ...pipelineOf({ key: 'progressive-rollout', name: 'Progressive rollout', description: '', legacy: false, phases: newPipelinePhases() }), ...overrides }
}

/** Requests kept in `requests` by default: the newest. */
const DEFAULT_MAX_REQUESTS = 10_000
/** The largest request body read by default; a larger one is answered 413. */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/** A TypeError with Node's code for a bad argument, naming the option and showing what it got. */
function badOption(name, expected, value) {
  const got = typeof value === 'string' ? JSON.stringify(value) : inspect(value, { breakLength: Infinity })
  return Object.assign(new TypeError(`${name ? `options.${name}` : 'options'} must be ${expected}, got ${got}`), { code: 'ERR_INVALID_ARG_VALUE' })
}

/** Checks the options of startFakeLaunchDarkly; throws a TypeError naming a bad one. */
function checkFakeOptions(options) {
  if (options === null || typeof options !== 'object') throw badOption('', 'an object', options)
  const integer = (name, min, max) => {
    const value = options[name]
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) throw badOption(name, `an integer from ${min} to ${max}`, value)
  }
  integer('port', 0, 65535)
  integer('maxRequests', 0, Number.MAX_SAFE_INTEGER)
  integer('maxBodyBytes', 0, Number.MAX_SAFE_INTEGER)
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) throw badOption('apiKey', 'a non-empty string', options.apiKey)
  for (const name of ['releases', 'pipelines']) {
    if (options[name] !== undefined && !Array.isArray(options[name])) throw badOption(name, 'an array', options[name])
  }
  if (options.requireBetaHeader !== undefined && typeof options.requireBetaHeader !== 'boolean') throw badOption('requireBetaHeader', 'a boolean', options.requireBetaHeader)
  const limit = options.rateLimit
  if (limit !== undefined && !(limit !== null && typeof limit === 'object' && Number.isInteger(limit.limit) && limit.limit > 0 && (limit.windowMs === undefined || (Number.isFinite(limit.windowMs) && limit.windowMs > 0)))) {
    throw badOption('rateLimit', '{ limit: a positive integer, windowMs?: a positive number }', limit)
  }
}

/** Starts the fake on 127.0.0.1. See index.d.ts for the options and what it returns. */
async function startFakeLaunchDarkly(options = {}) {
  checkFakeOptions(options)
  const maxRequests = options.maxRequests ?? DEFAULT_MAX_REQUESTS
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const apiKey = options.apiKey ?? `api-fake-${randomBytes(12).toString('hex')}`
  const requireBetaHeader = options.requireBetaHeader ?? true
  const rateLimit = options.rateLimit
    ? {
        limit: options.rateLimit.limit,
        windowMs: options.rateLimit.windowMs ?? DEFAULT_WINDOW_MS,
        // The account's limit, shared by every route: large unless a test sets it.
        globalLimit: options.rateLimit.globalLimit ?? DEFAULT_GLOBAL_LIMIT,
        // The access token's own limit (X-Ratelimit-Auth-Token-*), with its own window:
        // sent only when a test sets it.
        tokenLimit: options.rateLimit.tokenLimit,
        tokenWindowMs: options.rateLimit.tokenWindowMs ?? DEFAULT_TOKEN_WINDOW_MS,
      }
    : null
  const tokenId = createHash('sha256').update(apiKey).digest('hex').slice(0, 24)
  const releases = new Map()
  const faults = []
  const windows = new Map() // route -> { start, count }
  const requests = []
  let rateLimited = 0
  let closing = null
  const environments = createEnvironments(options, { send, readJson })

  if (options.releases) for (const { projectKey, flagKey, release } of options.releases) releases.set(keyOf(projectKey, flagKey), clone(release))
  // Pipelines per project, in creation order. Without `options.pipelines`, each project
  // starts with the two sample pipelines when first looked at.
  const pipelinesByProject = new Map()
  for (const { projectKey, pipeline } of options.pipelines ?? []) pipelinesOf(projectKey).set(pipeline.key, clone(pipeline))
  function pipelinesOf(projectKey) {
    let map = pipelinesByProject.get(projectKey)
    if (!map) {
      map = new Map(options.pipelines ? [] : [samplePipeline(), sampleNewPipeline()].map((p) => [p.key, p]))
      pipelinesByProject.set(projectKey, map)
    }
    return map
  }
  const pipelineFor = (projectKey, pipelineKey) => pipelinesOf(projectKey).get(pipelineKey)
  /** A release is of a new pipeline when its pipeline says `_isLegacy: false`; else it is treated as legacy. */
  const isNewPipeline = (projectKey, release) => pipelineFor(projectKey, release.releasePipelineKey)?._isLegacy === false

  const server = http.createServer((req, res) => {
    const chunks = []
    let size = 0
    req.on('error', () => {}) // a client that goes away mid-body: nothing to answer
    req.on('data', (c) => {
      size += c.length
      if (size <= maxBodyBytes) chunks.push(c)
      else chunks.length = 0 // what was read goes: the body is refused
    })
    req.on('end', () => {
      if (size > maxBodyBytes) {
        // Neither kept nor parsed; the connection closes after the answer.
        record({ method: req.method, path: req.url, headers: flatHeaders(req.rawHeaders), rawHeaders: [...req.rawHeaders], body: '', receivedAt: Date.now() })
        return send(res, 413, { code: 'request_entity_too_large', message: `The request body is larger than ${maxBodyBytes} bytes` }, { connection: 'close' })
      }
      const body = Buffer.concat(chunks).toString('utf8')
      const entry = { method: req.method, path: req.url, headers: flatHeaders(req.rawHeaders), rawHeaders: [...req.rawHeaders], body, receivedAt: Date.now() }
      try {
        entry.json = JSON.parse(body)
      } catch {
        // not JSON (or no body): no `json`
      }
      record(entry)
      handle(req, res, body).catch((err) => {
        // No handler throws once it has begun its answer; if one did, the client sees the connection close.
        if (res.headersSent) res.destroy()
        else send(res, 500, { code: 'internal_server_error', message: String(err && err.message) })
      })
    })
  })

  /** Adds `entry` to `requests`, which keeps the newest `maxRequests`. */
  function record(entry) {
    requests.push(entry)
    while (requests.length > maxRequests) requests.shift()
  }

  async function handle(req, res, body) {
    const route = parseRoute(req.url)
    const method = effectiveMethod(req, route)
    const fault = takeFault(req.method, method, route ? route.path : decodeSafe(req.url.split('?')[0]))
    let extra = {}
    if (fault?.applied) {
      // Handled first (a write takes effect), then its answer is lost as the fault says.
      const answer = captured()
      await serve(req, answer, body, route, method, {})
      // applyFault answers true when the fake closes or the client goes away meanwhile.
      if (!(await applyFault(fault, req, res, route))) answer.sendTo(res, stringify(fault.headers))
      return
    }
    if (fault) {
      if (await applyFault(fault, req, res, route)) return
      extra = stringify(fault.headers) // a pure delay (or header) fault: handled normally, with its headers
    }
    return serve(req, res, body, route, method, extra)
  }

  /** Handles a request past its faults. */
  async function serve(req, res, body, route, method, extra) {

    if (rateLimit && route) {
      const limit = countRate(`${method} ${route.name}`)
      extra = { ...limit.headers, ...extra }
      if (limit.over) {
        rateLimited++
        return send(res, 429, { code: 'rate_limited', message: "You've exceeded the API rate limit. Try again later." }, extra)
      }
    }

    if (firstHeader(req.rawHeaders, 'authorization') !== apiKey) {
      return send(res, 401, { code: 'unauthorized', message: 'Invalid access token' }, extra)
    }
    if (requireBetaHeader && route?.beta !== false && firstHeader(req.rawHeaders, 'ld-api-version') !== 'beta') {
      return send(res, 403, { code: 'forbidden', message: BETA_MESSAGE }, extra)
    }
    if (!route) return send(res, 404, { code: 'not_found', message: 'Invalid resource identifier' }, extra)
    if (route.group === 'environments') return environments.handle(req, res, route, method, body, extra)

    if (route.name === 'pipelines' || route.name === 'pipeline' || route.name === 'progressions') {
      return handlePipelines(req, res, route, method, body, extra)
    }

    const key = keyOf(route.projectKey, route.flagKey)
    const release = releases.get(key)
    const notFound = () => send(res, 404, { code: 'not_found', message: `No release for flag ${route.flagKey} in project ${route.projectKey}` }, extra)

    if (route.name === 'create' && method === 'PUT') {
      const input = readJson(req, body)
      if (input.error) return send(res, 400, invalid(input.error), extra)
      const value = input.value
      if (!isObject(value)) return send(res, 400, invalid('the body must be a JSON object'), extra)
      if (typeof value.releasePipelineKey !== 'string' || !value.releasePipelineKey) {
        return send(res, 400, invalid('releasePipelineKey is required and must be a non-empty string'), extra)
      }
      if (value.releaseVariationId !== undefined && value.releaseVariationId !== null && typeof value.releaseVariationId !== 'string') {
        return send(res, 400, invalid('releaseVariationId must be a string'), extra)
      }
      const pipeline = pipelineFor(route.projectKey, value.releasePipelineKey)
      if (!pipeline) return send(res, 404, { code: 'not_found', message: 'Release pipeline not found' }, extra)
      const created =
        pipeline._isLegacy === false
          ? {
              name: pipeline.name,
              releasePipelineKey: pipeline.key,
              releasePipelineDescription: pipeline.description ?? '',
              phases: pipeline.phases.map((phase, i) => unstartedPhase({ id: phase.id, name: phase.name }, i)),
              _version: 0,
              _releaseVariationId: value.releaseVariationId ?? 'variation-true',
            }
          : legacyReleaseOf(route, pipeline, value.releaseVariationId ?? null)
      releases.set(key, created)
      return send(res, 200, created, extra)
    }
    if (route.name === 'release' && method === 'GET') return release ? send(res, 200, release, extra) : notFound()
    if (route.name === 'release' && method === 'DELETE') {
      if (!release) return notFound()
      releases.delete(key)
      res.writeHead(204, extra)
      return res.end()
    }
    if (route.name === 'release' && method === 'PATCH') {
      if (!release) return notFound()
      if (isNewPipeline(route.projectKey, release)) return send(res, 400, invalid(LEGACY_ONLY_MESSAGE), extra)
      const input = readJson(req, body)
      if (input.error) return send(res, 400, invalid(input.error), extra)
      const problem = applyPatch(release, input.value)
      if (problem) return send(res, 400, invalid(problem), extra)
      return send(res, 200, release, extra)
    }
    if (route.name === 'phase' && method === 'PUT') {
      if (!release) return notFound()
      const phase = release.phases.find((p) => p._id === route.phaseId)
      if (!phase) return send(res, 404, { code: 'not_found', message: `No phase with id ${route.phaseId} in this release` }, extra)
      const input = readJson(req, body)
      if (input.error) return send(res, 400, invalid(input.error), extra)
      const pipeline = pipelineFor(route.projectKey, release.releasePipelineKey)
      const problem = pipeline?._isLegacy === false ? startPhase(release, phase, input.value, pipeline) : updatePhase(release, phase, input.value)
      if (problem) return send(res, 400, invalid(problem), extra)
      return send(res, 200, release, extra)
    }
    return send(res, 405, { code: 'method_not_allowed', message: `${req.method} is not allowed on ${route.path}` }, extra)
  }

  /** Validates the whole patch on a copy, then applies it: all or nothing. Returns a problem or null. */
  function applyPatch(release, ops) {
    if (!Array.isArray(ops)) return 'the body must be a JSON Patch array of operations'
    if (ops.length === 0) return 'the patch is empty: it must hold at least one operation'
    const draft = clone(release)
    for (const [i, op] of ops.entries()) {
      const at = `operation ${i}`
      if (!isObject(op)) return `${at} is not an object`
      if (op.op !== 'replace' && op.op !== 'test') return `${at}: op ${JSON.stringify(op.op)} is not supported; only "replace" (and "test") on /phases/<n>/complete`
      const path = typeof op.path === 'string' ? op.path : undefined // which no pattern below matches
      const complete = /^\/phases\/(0|[1-9]\d*)\/complete$/.exec(path)
      const id = op.op === 'test' ? /^\/phases\/(0|[1-9]\d*)\/_id$/.exec(path) : null
      const match = complete ?? id
      if (!match) return `${at}: path ${JSON.stringify(op.path)} cannot be changed; only /phases/<n>/complete`
      const index = Number(match[1])
      const phase = draft.phases[index]
      if (!phase) return `${at}: there is no phase ${match[1]}; the release has ${draft.phases.length} phases`
      if (!('value' in op)) return `${at}: value is required`
      if (op.op === 'test') {
        const actual = complete ? phase.complete : phase._id
        if (actual !== op.value) return `${at}: test failed: ${op.path} is ${JSON.stringify(actual)}, not ${JSON.stringify(op.value)}`
        continue
      }
      if (typeof op.value !== 'boolean') return `${at}: value must be a boolean, got ${JSON.stringify(op.value)}`
      setComplete(draft, index, op.value)
    }
    bumpVersion(draft)
    Object.assign(release, draft) // the draft is a copy of the release: the same fields
    return null
  }

  function setComplete(release, index, complete) {
    const phase = release.phases[index]
    if (complete) {
      markComplete(phase)
      const next = release.phases[index + 1]
      if (next && !next.started) markStarted(next)
    } else {
      phase.complete = false
      phase.status = 'Started'
      delete phase._completionDate
      delete phase._completedBy
    }
  }

  function markStarted(phase) {
    phase.started = true
    phase.status = 'Started'
    phase._startedDate ??= Date.now()
  }

  function markComplete(phase) {
    phase.complete = true
    phase.status = 'Complete'
    phase._completionDate = Date.now()
    phase._completedBy = { token: { _links: {}, _id: tokenId, name: 'fake token', ending: apiKey.slice(-4), serviceToken: false } }
  }

  /** The phase-status PUT: `{status?, audiences?}`. Returns a problem or null. */
  function updatePhase(release, phase, input) {
    if (!isObject(input)) return 'the body must be a JSON object'
    const { status, audiences } = input
    if (status !== undefined && !PHASE_STATUSES.includes(status) && String(status).toLowerCase() !== 'active') {
      return `status must be active or one of ${PHASE_STATUSES.join(', ')}`
    }
    if (audiences !== undefined && (!Array.isArray(audiences) || !audiences.every(isObject))) return 'audiences must be an array of objects'
    for (const given of audiences ?? []) {
      // A phase without `_audiences` (one that has not started) has no audience to configure.
      const audience = (phase._audiences ?? []).find((a) => a._id === given.audienceId)
      if (!audience) continue
      const configuration = (audience.configuration ??= { releaseStrategy: 'immediate-rollout', requireApproval: false })
      for (const name of ['releaseGuardianConfiguration', 'notifyMemberIds', 'notifyTeamKeys']) {
        if (given[name] !== undefined) configuration[name] = clone(given[name])
      }
    }
    if (status === 'Complete') {
      markStarted(phase) // a phase not started yet is started first; a started one keeps its start date
      markComplete(phase)
    } else if (status !== undefined) {
      if (status === 'Started' || String(status).toLowerCase() === 'active') markStarted(phase)
      phase.status = String(status).toLowerCase() === 'active' ? 'Started' : status
      phase.complete = false
      delete phase._completionDate
      delete phase._completedBy
    }
    bumpVersion(release)
    return null
  }

  /**
   * The phase-status PUT on a release of a new pipeline, as LaunchDarkly does it: only
   * `active` (any case) is accepted; starting a phase completes every phase before it.
   */
  function startPhase(release, phase, input, pipeline) {
    if (!isObject(input)) return 'the body must be a JSON object'
    if (typeof input.status !== 'string' || input.status.toLowerCase() !== 'active') return ACTIVE_ONLY_MESSAGE
    const { audiences } = input
    if (audiences !== undefined && (!Array.isArray(audiences) || !audiences.every(isObject))) return 'audiences must be an array of objects'
    const index = release.phases.indexOf(phase)
    if (phase.complete) return `Phase ${phase._name} is already completed`
    // A repeat is refused, as LaunchDarkly refuses it: a client that resends a start that
    // was applied gets this 400.
    if (phase.started) return `Phase must have status not-started or ready-to-start to be started: ${phase._name} is already active`
    const now = Date.now()
    release.phases.forEach((p, i) => {
      if (i < index && !p.complete) {
        if (!p.started) Object.assign(p, startedPhase({ id: p._id, name: p._name, environments: environmentsOf(pipeline, p) }, i, now))
        p.complete = true
        p.status = 'completed'
        p._completionDate = now
        p._completedBy = { token: { _id: tokenId, name: 'fake token', ending: apiKey.slice(-4), serviceToken: false } }
        for (const audience of p._audiences ?? []) audience.status = 'completed'
      }
    })
    Object.assign(phase, startedPhase({ id: phase._id, name: phase._name, environments: environmentsOf(pipeline, phase) }, index, now))
    bumpVersion(release)
    return null
  }

  /** The environments a phase rolls out to, from its release's pipeline (none when the pipeline does not have it). */
  function environmentsOf(pipeline, phase) {
    const fromPipeline = pipeline.phases.find((p) => p.id === phase._id)
    return (fromPipeline?.audiences ?? []).map((a) => [a.environment?.key, a.environment?.name ?? a.name, a.environment?.color])
  }

  /**
   * The pipelines list's `filter`, as LaunchDarkly documents it: `query:<text>` (the key,
   * name or description contains the text, in any case) and `env:<key>` (a phase rolls
   * out to that environment), comma-separated.
   */
  function pipelineFilter(text) {
    const tests = []
    for (const part of text ? text.split(',') : []) {
      const at = part.indexOf(':')
      const [field, value] = [part.slice(0, at).trim(), part.slice(at + 1)]
      if (at < 0 || !value) return { error: `Invalid filter: ${JSON.stringify(part)}` }
      if (field === 'query') {
        const needle = value.toLowerCase()
        tests.push((p) => [p.key, p.name, p.description].some((v) => typeof v === 'string' && v.toLowerCase().includes(needle)))
      } else if (field === 'env') {
        tests.push((p) => p.phases.some((phase) => phase.audiences?.some((a) => a.environment?.key === value)))
      } else {
        return { error: `Unsupported filter field: ${JSON.stringify(field)}` }
      }
    }
    return { keep: (p) => tests.every((test) => test(p)) }
  }

  /**
   * The release-pipelines endpoints: list (paged), create, get, update, delete, and the
   * list of release progressions (paged, with LaunchDarkly's filter syntax).
   */
  function handlePipelines(req, res, route, method, body, extra) {
    const notAllowed = () => send(res, 405, { code: 'method_not_allowed', message: `${req.method} is not allowed on ${route.path}` }, extra)
    const query = new URL(req.url, 'http://fake').searchParams
    const page = readPage(query)
    if (page.error) return send(res, 400, invalid(page.error), extra)
    const project = pipelinesOf(route.projectKey)
    if (route.name === 'pipelines') {
      if (method === 'GET') {
        const filter = pipelineFilter(query.get('filter'))
        if (filter.error) return send(res, 400, invalid(filter.error), extra)
        const all = [...project.values()].filter(filter.keep)
        return send(res, 200, { items: all.slice(page.offset, page.offset + page.limit), totalCount: all.length }, extra)
      }
      if (method !== 'POST') return notAllowed()
      const input = readJson(req, body)
      if (input.error) return send(res, 400, invalid(input.error), extra)
      const problem = pipelineProblem(input.value, true)
      if (problem) return send(res, 400, invalid(problem), extra)
      if (project.has(input.value.key)) return send(res, 409, { code: 'conflict', message: `A release pipeline with key ${input.value.key} already exists` }, extra)
      if (project.size >= MAX_PIPELINES) return send(res, 400, invalid(`A project can have at most ${MAX_PIPELINES} release pipelines`), extra)
      const created = pipelineFromInput(route.projectKey, input.value)
      if (created.isProjectDefault) for (const other of project.values()) other.isProjectDefault = false
      project.set(created.key, created)
      return send(res, 201, created, extra)
    }
    const pipeline = project.get(route.pipelineKey)
    if (!pipeline) return send(res, 404, { code: 'not_found', message: 'Release pipeline not found' }, extra)
    if (route.name === 'progressions') {
      if (method !== 'GET') return notAllowed()
      const filter = parseProgressionFilter(query.get('filter'))
      if (filter.error) return send(res, 400, invalid(filter.error), extra)
      const all = [...releases.entries()]
        .map(([key, release]) => ({ key: JSON.parse(key), release }))
        .filter(({ key, release }) => key[0] === route.projectKey && release.releasePipelineKey === pipeline.key)
        .map(({ key, release }) => progressionOf(route.projectKey, key[1], release))
      const active = all.filter((p) => p.activePhaseId !== undefined)
      const matching = all.filter(
        (p) =>
          (filter.status === undefined || (filter.status === 'active') === (p.activePhaseId !== undefined)) &&
          (filter.activePhaseId === undefined || p.activePhaseId === filter.activePhaseId),
      )
      return send(
        res,
        200,
        {
          items: matching.slice(page.offset, page.offset + page.limit),
          phases: pipeline.phases.map((phase) => ({ _id: phase.id, name: phase.name, releaseCount: active.filter((p) => p.activePhaseId === phase.id).length })),
          totalCount: matching.length,
          activeCount: active.length,
          completedCount: all.length - active.length,
          _links: { self: { href: `${route.path}?limit=${page.limit}&offset=${page.offset}`, type: 'application/json' } },
        },
        extra,
      )
    }
    if (method === 'GET') return send(res, 200, pipeline, extra)
    if (method === 'DELETE') {
      if (pipeline.isProjectDefault) return send(res, 400, invalid('The default release pipeline of a project cannot be deleted'), extra)
      project.delete(pipeline.key)
      res.writeHead(204, extra)
      return res.end()
    }
    if (method !== 'PUT') return notAllowed()
    const input = readJson(req, body)
    if (input.error) return send(res, 400, invalid(input.error), extra)
    const problem = pipelineProblem(input.value, false)
    if (problem) return send(res, 400, invalid(problem), extra)
    const updated = { ...pipelineFromInput(route.projectKey, { ...input.value, key: pipeline.key, isLegacy: pipeline._isLegacy }), createdAt: pipeline.createdAt }
    updated.isProjectDefault = pipeline.isProjectDefault
    updated._version = (pipeline._version ?? 0) + 1
    project.set(pipeline.key, updated)
    return send(res, 200, updated, extra)
  }

  /**
   * A new release of a legacy pipeline, with that pipeline's phases (ids, names,
   * audiences): its first phase started, as in `sampleRelease()`.
   */
  function legacyReleaseOf(route, pipeline, variation) {
    const now = Date.now()
    return {
      _links: { self: { href: releaseHref(route.projectKey, route.flagKey), type: 'application/json' } },
      name: pipeline.name,
      releasePipelineKey: pipeline.key,
      releasePipelineDescription: pipeline.description ?? '',
      phases: pipeline.phases.map((phase, i) => ({
        _id: phase.id,
        _name: phase.name,
        complete: false,
        _creationDate: now,
        _audiences: (phase.audiences ?? []).map((a, j) => ({
          _id: createHash('sha256').update(`${phase.id}/${j}`).digest('hex').slice(0, 24),
          name: a.name,
          environment: clone(a.environment),
          configuration: clone(a.configuration) ?? { releaseStrategy: 'immediate-rollout', requireApproval: false },
          segmentKeys: clone(a.segmentKeys) ?? [],
          status: i === 0 ? 'active' : 'inactive',
        })),
        status: i === 0 ? 'Started' : 'NotStarted',
        started: i === 0,
        ...(i === 0 ? { _startedDate: now } : {}),
        configuration: clone(phase.configuration) ?? {},
      })),
      _version: 1,
      _releaseVariationId: variation,
    }
  }

  /** A pipeline from a create or update body; phase ids are made up as LaunchDarkly does. */
  function pipelineFromInput(projectKey, input) {
    return {
      _links: { self: { href: `/api/v2/projects/${projectKey}/release-pipelines/${input.key}`, type: 'application/json' } },
      key: input.key,
      name: input.name,
      description: input.description ?? '',
      createdAt: new Date().toISOString(),
      phases: input.phases.map((phase) => ({
        id: randomBytes(12).toString('hex'),
        name: phase.name,
        audiences: phase.audiences.map((a) => ({
          name: a.name,
          environment: environmentOf(a.environmentKey),
          configuration: a.configuration ?? { releaseStrategy: 'immediate-rollout', requireApproval: false },
          ...(a.segmentKeys ? { segmentKeys: a.segmentKeys } : {}),
        })),
      })),
      tags: input.tags ?? [],
      // A created pipeline is at version 0, as LaunchDarkly answers it.
      _version: 0,
      _isLegacy: input.isLegacy ?? false,
      isProjectDefault: input.isProjectDefault ?? false,
    }
  }

  /** Where a release stands in its pipeline, as the progressions list shows it. */
  function progressionOf(projectKey, flagKey, release) {
    const active = release.phases.find((p) => !p.complete)
    const created = Math.min(...release.phases.map((p) => p._creationDate ?? p._startedDate ?? Infinity))
    const completedAt = Math.max(...release.phases.map((p) => p._completionDate ?? 0))
    return {
      flagKey,
      ...(active ? { activePhaseId: active._id } : { _completedAt: completedAt }),
      _createdAt: Number.isFinite(created) ? created : 1764300000000,
      _links: { self: { href: releaseHref(projectKey, flagKey), type: 'application/json' } },
    }
  }

  /** Counts one request in the window `name` of `windowMs`; returns that window. */
  function tick(name, windowMs) {
    const now = Date.now()
    let w = windows.get(name)
    if (!w || now >= w.start + windowMs) {
      const start = w ? w.start + Math.floor((now - w.start) / windowMs) * windowMs : now
      w = { start, count: 0 }
      windows.set(name, w)
    }
    w.count++
    return w
  }

  /**
   * Counts a request to route `name` in the three families: the route's window, the
   * account's (global) and, when set, the token's; `over` when any is spent.
   */
  function countRate(name) {
    const route = tick(`route ${name}`, rateLimit.windowMs)
    const global = tick('global', rateLimit.windowMs)
    const left = (w, limit) => Math.max(0, limit - w.count)
    const headers = {
      'X-Ratelimit-Route-Remaining': String(left(route, rateLimit.limit)),
      'X-Ratelimit-Global-Remaining': String(left(global, rateLimit.globalLimit)),
      'X-Ratelimit-Reset': String(route.start + rateLimit.windowMs),
    }
    let over = route.count > rateLimit.limit || global.count > rateLimit.globalLimit
    if (rateLimit.tokenLimit !== undefined) {
      const token = tick('token', rateLimit.tokenWindowMs)
      headers['X-Ratelimit-Auth-Token-Limit'] = String(rateLimit.tokenLimit)
      headers['X-Ratelimit-Auth-Token-Remaining'] = String(left(token, rateLimit.tokenLimit))
      headers['X-Ratelimit-Auth-Token-Reset'] = String(token.start + rateLimit.tokenWindowMs)
      over ||= token.count > rateLimit.tokenLimit
    }
    return { over, headers }
  }

  function takeFault(rawMethod, method, path) {
    const index = faults.findIndex((f) => {
      const want = f.match?.method?.toUpperCase()
      return (!want || want === rawMethod || want === method) && (!f.match?.path || f.match.path === path)
    })
    if (index < 0) return null
    const fault = faults[index]
    if (--fault.remaining <= 0) faults.splice(index, 1)
    return fault
  }

  /** Applies a fault; true when it answered (or broke) the request, false to handle it normally. */
  async function applyFault(fault, req, res, route) {
    const headers = stringify(fault.headers)
    await sleep(fault.delayMs) // none: a tick
    if (closing || res.destroyed) return true
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
      const text = JSON.stringify(sampleRelease())
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers })
      res.write(text.slice(0, Math.floor(text.length / 3)))
      setTimeout(() => res.destroy(), 20).unref()
      return true
    }
    if (fault.malformed) {
      const text = '{"name": "Standard rollout", "phases": [<html>'
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers })
      res.end(text)
      return true
    }
    if (fault.oversizeBytes) {
      await streamOversize(res, fault.oversizeBytes, headers)
      return true
    }
    if (fault.trickleMs) {
      const held = route && releases.get(keyOf(route.projectKey, route.flagKey))
      const text = JSON.stringify(held ?? sampleRelease())
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers })
      for (let rest = text; rest; rest = rest.slice(16)) {
        if (res.destroyed || closing) return true
        res.write(rest.slice(0, 16))
        await sleep(fault.trickleMs)
      }
      res.end()
      return true
    }
    if (fault.status) {
      let body = fault.body ?? { code: defaultCode(fault.status), message: defaultMessage(fault.status) }
      let type = fault.contentType
      if (typeof body !== 'string') {
        body = JSON.stringify(body)
        type ??= 'application/json'
      } else {
        type ??= body.trimStart().startsWith('<') ? 'text/html' : 'text/plain'
      }
      res.writeHead(fault.status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...headers })
      res.end(body)
      return true
    }
    return false
  }

  server.keepAliveTimeout = 1000
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, '127.0.0.1', () => { // no port: any free one
      server.off('error', reject)
      resolve()
    })
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
    ...environments.controls,
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    },
  }
}

/** The route a request target names, with its keys percent-decoded, or null. */
function parseRoute(url) {
  const parts = url.split('?')[0].split('/').slice(1)
  const keys = (...raw) => {
    const decoded = raw.map(decodeSafe)
    return decoded.every((k) => k !== null && k !== '') ? decoded : null
  }
  if (parts[0] !== 'api' || parts[1] !== 'v2') return null
  // /api/v2/flags/{projectKey}/{flagKey}/release
  if (parts.length === 6 && parts[2] === 'flags' && parts[5] === 'release') {
    const k = keys(parts[3], parts[4])
    if (!k) return null
    return { name: 'release', projectKey: k[0], flagKey: k[1], path: `/api/v2/flags/${k[0]}/${k[1]}/release` }
  }
  // /api/v2/projects/{projectKey}/release-pipelines[/{pipelineKey}[/releases]]
  if (parts.length <= 7 && parts[2] === 'projects' && parts[4] === 'release-pipelines') {
    const k = keys(parts[3], ...parts.slice(5, 6))
    if (!k) return null
    const base = `/api/v2/projects/${k[0]}/release-pipelines`
    if (parts.length === 5) return { name: 'pipelines', projectKey: k[0], path: base }
    if (parts.length === 6) return { name: 'pipeline', projectKey: k[0], pipelineKey: k[1], path: `${base}/${k[1]}` }
    if (parts[6] === 'releases') return { name: 'progressions', projectKey: k[0], pipelineKey: k[1], path: `${base}/${k[1]}/releases` }
    return null
  }
  // /api/v2/projects/{projectKey}/flags/{flagKey}/release[/phases/{phaseId}]
  if (parts[2] === 'projects' && parts[4] === 'flags' && parts[6] === 'release') {
    const k = keys(parts[3], parts[5])
    if (!k) return null
    const base = `/api/v2/projects/${k[0]}/flags/${k[1]}/release`
    if (parts.length === 7) return { name: 'create', projectKey: k[0], flagKey: k[1], path: base }
    if (parts.length === 9 && parts[7] === 'phases') {
      const id = keys(parts[8])
      if (!id) return null
      return { name: 'phase', projectKey: k[0], flagKey: k[1], phaseId: id[0], path: `${base}/phases/${id[0]}` }
    }
  }
  return parseEnvironmentRoute(parts, keys)
}

/** PATCH for a POST carrying `X-HTTP-Method-Override: PATCH` on the release route. */
function effectiveMethod(req, route) {
  const override = firstHeader(req.rawHeaders, 'x-http-method-override')
  if (req.method === 'POST' && route && route.name === 'release' && override?.toUpperCase() === 'PATCH') return 'PATCH' // (HTTP strips the spaces around a value)
  return req.method
}

/** `limit` (1 to 100, default 20) and `offset` (default 0) of a list request. */
function readPage(query) {
  const number = (name, fallback, min, max) => {
    const text = query.get(name)
    if (text === null) return fallback
    const n = Number(text)
    return /^\d+$/.test(text) && n >= min && n <= max ? n : null
  }
  const limit = number('limit', 20, 1, 100)
  const offset = number('offset', 0, 0, Number.MAX_SAFE_INTEGER)
  if (limit === null) return { error: 'limit must be an integer from 1 to 100' }
  if (offset === null) return { error: 'offset must be a non-negative integer' }
  return { limit, offset }
}

/**
 * The progressions filter as LaunchDarkly writes it:
 * `status equals "active",activePhaseId equals "<id>"`. A quoted value may hold `\"`
 * and `\\` (a quote and a backslash) and commas; an unquoted one runs to the next comma.
 */
function parseProgressionFilter(text) {
  const out = {}
  if (text === null || text.trim() === '') return out
  const part = /\s*(status|activePhaseId)\s+equals\s+(?:"((?:[^"\\]|\\.)*)"|([^",]*?))\s*(?:,|$)/y
  let at = 0
  while (at < text.length) {
    part.lastIndex = at
    const match = part.exec(text)
    if (!match) return { error: `unsupported filter ${JSON.stringify(text.slice(at).split(',')[0].trim())}: use status equals "active" or activePhaseId equals "<phase id>"` }
    out[match[1]] = match[2] !== undefined ? match[2].replace(/\\(.)/gs, '$1') : match[3]
    at = part.lastIndex
  }
  if (out.status !== undefined && out.status !== 'active' && out.status !== 'completed') return { error: 'status must be active or completed' }
  if (out.status === 'completed' && out.activePhaseId !== undefined) return { error: 'status equals completed cannot be combined with an activePhaseId filter' }
  return out
}

/** What is wrong with a pipeline create (`withKey`) or update body, or null. */
function pipelineProblem(input, withKey) {
  if (!isObject(input)) return 'the body must be a JSON object'
  if (withKey && (typeof input.key !== 'string' || !/^[\w.-]+$/.test(input.key))) return 'key is required: letters, digits, ., _ and -'
  if (typeof input.name !== 'string' || !input.name) return 'name is required'
  if (!Array.isArray(input.phases) || input.phases.length === 0) return 'phases must be a non-empty array'
  for (const [i, phase] of input.phases.entries()) {
    if (!isObject(phase) || typeof phase.name !== 'string' || !phase.name) return `phases[${i}].name is required`
    if (!Array.isArray(phase.audiences)) return `phases[${i}].audiences must be an array`
    for (const [j, audience] of phase.audiences.entries()) {
      if (!isObject(audience) || typeof audience.environmentKey !== 'string' || typeof audience.name !== 'string') {
        return `phases[${i}].audiences[${j}] needs environmentKey and name`
      }
    }
  }
  return null
}

function decodeSafe(s) {
  try {
    return decodeURIComponent(s)
  } catch {
    return null
  }
}

function flatHeaders(rawHeaders) {
  const out = {}
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase()
    out[name] = name in out ? `${out[name]}, ${rawHeaders[i + 1]}` : rawHeaders[i + 1]
  }
  return out
}

/** The first value sent for a header: LaunchDarkly reads the first of repeated headers. */
function firstHeader(rawHeaders, name) {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === name) return rawHeaders[i + 1]
  }
  return undefined
}

function readJson(req, body) {
  const type = firstHeader(req.rawHeaders, 'content-type')
  if (!type || !/^application\/json\s*(;|$)/i.test(type)) return { error: `Content-Type must be application/json, got ${type === undefined ? 'none' : JSON.stringify(type)}` }
  try {
    return { value: JSON.parse(body) }
  } catch {
    return { error: 'the body is not valid JSON' }
  }
}

const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value)

function invalid(message) {
  return { code: 'invalid_request', message }
}

function defaultCode(status) {
  return (
    {
      400: 'invalid_request',
      401: 'unauthorized',
      403: 'forbidden',
      404: 'not_found',
      405: 'method_not_allowed',
      409: 'conflict',
      422: 'unprocessable_entity',
      429: 'rate_limited',
    }[status] ?? (status >= 500 ? 'internal_server_error' : 'error')
  )
}

function defaultMessage(status) {
  return (
    {
      400: 'Invalid request body',
      401: 'Invalid access token',
      403: 'Forbidden. Access to the requested resource was denied.',
      404: 'Invalid resource identifier',
      409: 'This request conflicts with a concurrent API request. Retry the request.',
      429: "You've exceeded the API rate limit. Try again later.",
    }[status] ?? `${status} ${http.STATUS_CODES[status] ?? 'error'}`
  )
}

function stringify(headers = {}) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]))
}

/** A write moves `_version` on; a release without a numeric `_version` is left without one (never `null`). Releases are held as JSON copies: a number is finite. */
function bumpVersion(release) {
  if (typeof release._version === 'number') release._version++
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers })
  res.end(text)
}

/**
 * A stand-in for a response that keeps what is written to it, to send later with
 * `sendTo(res, headers)`: for a fault whose request takes effect but whose answer is lost.
 */
function captured() {
  const kept = { status: 200, headers: {}, chunks: [] }
  return {
    writeHead(status, headers = {}) {
      kept.status = status
      kept.headers = { ...headers }
      return this
    },
    end(chunk) {
      if (chunk !== undefined) kept.chunks.push(Buffer.from(chunk))
      return this
    },
    sendTo(res, headers) {
      res.writeHead(kept.status, { ...kept.headers, ...headers })
      res.end(Buffer.concat(kept.chunks))
    },
  }
}

/** A 200 JSON string of about `bytes` bytes, without Content-Length; stops when the client goes away. */
async function streamOversize(res, bytes, headers) {
  res.writeHead(200, { 'content-type': 'application/json', ...headers })
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  res.write('{"name":"')
  let sent = 10
  while (sent < bytes && !res.destroyed) {
    const ok = res.write(chunk.subarray(0, bytes - sent)) // the whole chunk, or what is left
    sent += chunk.length
    if (!ok && !res.destroyed) {
      await new Promise((resolve) => {
        const done = () => {
          res.off('drain', done)
          res.off('close', done)
          resolve()
        }
        res.on('drain', done)
        res.on('close', done)
      })
    }
  }
  if (!res.destroyed) res.end('"}')
}

// Unref'd: a closed fake must not keep its process alive for a pending delay or stall.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())

module.exports = { startFakeLaunchDarkly, sampleRelease, sampleNewPipelineRelease, sampleReleases, samplePipeline, sampleNewPipeline }
