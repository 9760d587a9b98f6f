// The fake's environment releases, release policies and flags (testing/environments.js),
// driven over HTTP on 127.0.0.1 with fetch: the shapes, the clock, the regression hook,
// every stop resolution, paging, and every refusal.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)
const { startFakeLaunchDarkly } = require('../testing/index.js')

const KEY = 'api-fake-environments-0123456789ab'
const T0 = Date.UTC(2026, 9, 1, 12)
const MINUTE = 60000
const DAY = 24 * 3600 * 1000
const FLAG = '/api/v2/flags/web/new-checkout'
const releasesOf = (env, flag = 'new-checkout', project = 'web') => `/api/v2/projects/${project}/flags/${flag}/environments/${env}/releases`
const POLICIES = '/api/v2/projects/web/release-policies'
const KIND = { contextKind: 'user', attribute: 'kind', op: 'in', values: ['user'] }
const clause = (attribute, ...values) => ({ contextKind: 'user', attribute, op: 'in', values })

/** A fake whose clock starts at T0 and stands still, closed after the test. */
async function start(t, options = {}) {
  const server = await startFakeLaunchDarkly({ apiKey: KEY, clock: { start: T0 }, ...options })
  t.after(() => server.close())
  return server
}

/** A request with the token and the beta header unless told otherwise; a body is sent as JSON. */
async function call(server, method, path, { body, auth = true, beta = true, headers = {} } = {}) {
  const h = { ...headers }
  if (auth) h.Authorization = server.apiKey
  if (beta) h['LD-API-Version'] = beta === true ? 'beta' : beta
  if (body !== undefined) h['Content-Type'] ??= 'application/json'
  const res = await fetch(server.url + path, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : null, type: res.headers.get('content-type') }
}

async function ok(server, method, path, options, status = 200) {
  const res = await call(server, method, path, options)
  assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`)
  return res.body
}

/** A refusal: the status, the code, a message matching `message`; returns the body. */
async function refused(server, method, path, options, status, code, message) {
  const res = await call(server, method, path, options)
  assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`)
  assert.equal(res.body.code, code, JSON.stringify(res.body))
  assert.equal(typeof res.body.message, 'string')
  if (message) assert.match(res.body.message, message)
  return res.body
}

/** The variation ids of a flag: `{ on, off }` for a boolean flag, by value. */
async function variations(server, flag = 'new-checkout') {
  const body = await ok(server, 'GET', `/api/v2/flags/web/${flag}`)
  return Object.fromEntries(body.variations.map((v) => [String(v.value), v._id]))
}

/** A start body: one new-rule phase per entry of `phases` (each a list of steps `[allocation, durationMillis]`). */
async function startBody(server, { phases = [[[10000, MINUTE], [100000, MINUTE]]], extra = {}, flag = 'new-checkout' } = {}) {
  const v = await variations(server, flag)
  return {
    originalVariationId: v.false,
    targetVariationId: v.true,
    randomizationUnit: 'user',
    ...(phases.length > 1 ? { advancementMode: 'automatic' } : {}),
    phases: phases.map((steps, i) => ({ clauses: [KIND, clause('segment', `s${i}`)], description: `Phase ${i}`, steps: steps.map(([allocation, durationMillis]) => ({ allocation, durationMillis })) })),
    ...extra,
  }
}

/** `body` with clauses and descriptions of its own (`tag`), so that its rules duplicate no other release's. */
const distinct = (body, tag) => ({ ...body, phases: body.phases.map((p, i) => ({ ...p, clauses: [KIND, clause('n', `${tag}-${i}`)], description: `${tag}-${i}` })) })
const startRelease = async (server, env, body, flag = 'new-checkout') => ok(server, 'POST', releasesOf(env, flag), { body }, 201)
const getRelease = (server, env, id, query = '') => ok(server, 'GET', `${releasesOf(env)}/${id}${query}`)
const stopRelease = (server, env, id, resolution) => ok(server, 'PUT', `${releasesOf(env)}/${id}/stop`, { body: { resolution, comment: 'test' } })

describe('flags', () => {
  test('GET /api/v2/flags/{project}/{flag}: variations with UUID ids, names and values; per environment on, fallthrough, offVariation', async (t) => {
    const server = await start(t)
    const flag = await ok(server, 'GET', FLAG, { beta: false })
    assert.equal(flag.key, 'new-checkout')
    assert.equal(flag.kind, 'boolean')
    assert.deepEqual(flag.variations.map((v) => [v.value, v.name]), [[true, 'Enabled'], [false, 'Disabled']])
    for (const v of flag.variations) assert.match(v._id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.deepEqual(Object.keys(flag.environments), ['test', 'staging', 'production'])
    for (const env of Object.values(flag.environments)) {
      assert.equal(env.on, true)
      assert.deepEqual(env.fallthrough, { variation: 1 })
      assert.equal(env.offVariation, 1)
    }
    assert.equal(flag.environments.production.rules[0].description, 'Beta testers')
    assert.deepEqual(flag.environments.production.rules[0].clauses[0], { ...KIND, negate: false })
    // The same ids every run, every fake.
    const other = await start(t)
    assert.deepEqual((await ok(other, 'GET', FLAG)).variations, flag.variations)

    const layout = await ok(server, 'GET', '/api/v2/flags/web/checkout-layout?env=production')
    assert.equal(layout.kind, 'multivariate')
    assert.deepEqual(layout.variations.map((v) => v.value), ['classic', 'compact', 'wide'])
    assert.deepEqual(Object.keys(layout.environments), ['production'])
    assert.equal(layout.environments.production.on, false)
  })

  test('the flag needs the token (401) but not the beta header; an unknown flag is 404; only GET', async (t) => {
    const server = await start(t)
    await refused(server, 'GET', FLAG, { auth: false }, 401, 'unauthorized')
    await refused(server, 'GET', '/api/v2/flags/web/no-such-flag', {}, 404, 'not_found')
    await refused(server, 'DELETE', FLAG, {}, 405, 'method_not_allowed')
  })

  test('setFlag adds a flag; setFlagOn turns it on or off; getFlag reads it', async (t) => {
    const server = await start(t)
    server.setFlag('web', { key: 'colors', variations: [{ value: 'red' }, { value: 'blue', name: 'Blue' }], environments: { test: { on: true } } })
    const flag = await ok(server, 'GET', '/api/v2/flags/web/colors')
    assert.equal(flag.kind, 'multivariate')
    assert.equal(flag.environments.test.on, true)
    assert.equal(flag.environments.production.on, false)
    server.setFlagOn('web', 'colors', 'production', true)
    assert.equal(server.getFlag('web', 'colors').environments.production.on, true)
    assert.throws(() => server.setFlagOn('web', 'colors', 'nowhere', true), /no flag colors/)
    assert.throws(() => server.setFlag('web', { key: 'x', variations: [{ value: 1 }] }), /at least two variations/)
  })
})

describe('headers', () => {
  test('every environment-release and release-policy endpoint needs the token and exactly LD-API-Version: beta', async (t) => {
    const server = await start(t)
    const id = '00000000-0000-4000-8000-000000000000'
    const routes = [
      ['GET', releasesOf('test')],
      ['POST', releasesOf('test'), {}],
      ['GET', `${releasesOf('test')}/${id}`],
      ['PUT', `${releasesOf('test')}/${id}/stop`, { resolution: 'roll_forward_all_phases' }],
      ['GET', POLICIES],
      ['POST', POLICIES, {}],
      ['GET', `${POLICIES}/default`],
      ['PUT', `${POLICIES}/default`, {}],
      ['DELETE', `${POLICIES}/default`],
      ['POST', `${POLICIES}/order`, []],
    ]
    for (const [method, path, body] of routes) {
      await refused(server, method, path, { body, auth: false }, 401, 'unauthorized')
      await refused(server, method, path, { body, beta: false }, 403, 'forbidden', /beta/)
      await refused(server, method, path, { body, beta: '20240415' }, 403, 'forbidden', /beta/)
    }
    assert.equal(server.getFlag('web', 'new-checkout').environments.test.rules.length, 0, 'nothing was started')
    assert.ok((await ok(server, 'GET', `${POLICIES}/default`)).key)
  })
})

describe('starting a release', () => {
  test('201 with the release: ids, variations, phases and steps, in_progress on its first step; its rules appear on the flag', async (t) => {
    const server = await start(t)
    const body = await startBody(server, { phases: [[[10000, MINUTE], [100000, MINUTE]], [[50000, MINUTE]]] })
    const release = await startRelease(server, 'test', body)
    assert.match(release.id, /^[0-9a-f-]{36}$/)
    assert.equal(release.status, 'in_progress')
    assert.equal(release.statusReason, null)
    assert.deepEqual([release.projectKey, release.flagKey, release.environmentKey], ['web', 'new-checkout', 'test'])
    assert.deepEqual([release.originalVariationValue, release.targetVariationValue], [false, true])
    assert.equal(release.kind, 'progressive')
    assert.deepEqual(release.metrics, [])
    assert.equal(release.cleanupBehavior, 'leave_rules_in_place')
    assert.equal(release.advancementMode, 'automatic')
    assert.equal(release.currentPhaseIndex, 0)
    assert.equal(release.createdAt, T0)
    assert.equal(release.startedAt, T0)
    assert.ok(!('endedAt' in release))
    const [first, second] = release.phases
    assert.deepEqual([first.phaseIndex, first.status, first.currentStepIndex, first.startedAt, first.description], [0, 'in_progress', 0, T0, 'Phase 0'])
    assert.deepEqual(first.steps.map((s) => [s.stepIndex, s.allocation, s.durationMillis, s.startedAt, s.endedAt]), [[0, 10000, MINUTE, T0, null], [1, 100000, MINUTE, null, null]])
    assert.equal(second.status, 'pending')
    assert.ok(!('currentStepIndex' in second), 'omitted until the first step starts')
    assert.deepEqual(first.metricStatuses, {})
    assert.equal(release._links.self.href, `${releasesOf('test')}/${release.id}`)
    assert.equal(release._links.parent.href, FLAG)
    // The rules: the running phase's rule serves a rollout of 10% target, the next one is disabled.
    const rules = server.getFlag('web', 'new-checkout').environments.test.rules
    assert.deepEqual(rules.map((r) => r._id), [first.ruleId, second.ruleId])
    assert.deepEqual(rules[0].rollout, { contextKind: 'user', variations: [{ variation: 0, weight: 10000 }, { variation: 1, weight: 90000 }] })
    assert.equal(rules[1].disabled, true)
    assert.equal(rules[1].variation, 1)
    // As the GET answers it.
    assert.deepEqual(await getRelease(server, 'test', release.id), release)
  })

  test('releasePendingMs: the release is pending, with no current phase, until its first phase starts', async (t) => {
    const server = await start(t, { releasePendingMs: 5000 })
    const release = await startRelease(server, 'test', await startBody(server))
    assert.equal(release.status, 'pending')
    assert.equal(release.currentPhaseIndex, null)
    assert.ok(!('startedAt' in release))
    server.advance(5000)
    const later = await getRelease(server, 'test', release.id)
    assert.equal(later.status, 'in_progress')
    assert.equal(later.startedAt, T0 + 5000)
    assert.equal(later.phases[0].steps[0].startedAt, T0 + 5000)
  })

  test('beforeRuleId inserts the new rules before that rule; an existing rule is released in place', async (t) => {
    const server = await start(t)
    const beta = server.getFlag('web', 'new-checkout').environments.production.rules[0]._id
    const release = await startRelease(server, 'production', await startBody(server, { extra: { beforeRuleId: beta } }))
    assert.deepEqual(server.getFlag('web', 'new-checkout').environments.production.rules.map((r) => r._id), [release.phases[0].ruleId, beta])
    await stopRelease(server, 'production', release.id, 'roll_back_all_phases_and_remove_pending_phases')

    const v = await variations(server)
    const existing = await startRelease(server, 'production', { originalVariationId: v.false, targetVariationId: v.true, randomizationUnit: 'user', phases: [{ ruleId: beta, steps: [{ allocation: 20000, durationMillis: MINUTE }] }] })
    assert.equal(existing.phases[0].ruleId, beta)
    assert.equal(existing.phases[0].description, 'Beta testers')
    const rule = server.getFlag('web', 'new-checkout').environments.production.rules.find((r) => r._id === beta)
    assert.deepEqual(rule.rollout.variations, [{ variation: 0, weight: 20000 }, { variation: 1, weight: 80000 }])
  })

  test('a guarded release: metrics with pinned versions, every started phase ok; expand=metrics attaches the definitions', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[5000, MINUTE], [50000, MINUTE]]], extra: { metrics: [{ metricKey: 'checkout-errors', autoRollback: true }, { metricKey: 'checkout-latency' }] } }))
    assert.equal(release.kind, 'guarded')
    assert.deepEqual(release.metrics.map((m) => [m.metricKey, m.autoRollback]), [['checkout-errors', true], ['checkout-latency', false]])
    for (const m of release.metrics) {
      assert.match(m.metricVersionId, /^[0-9a-f-]{36}$/)
      assert.ok(!('definition' in m))
    }
    assert.deepEqual(release.phases[0].metricStatuses, { 'checkout-errors': 'ok', 'checkout-latency': 'ok' })
    const expanded = await getRelease(server, 'test', release.id, '?expand=metrics')
    assert.deepEqual(expanded.metrics.map((m) => [m.definition.key, m.definition._versionId]), release.metrics.map((m) => [m.metricKey, m.metricVersionId]))
    assert.equal(expanded.metrics[1].definition.unit, 'ms')
  })

  test('every invalid start is a 400 invalid_request that says what is wrong, and starts nothing', async (t) => {
    const server = await start(t)
    const base = await startBody(server, { phases: [[[10000, MINUTE]]] })
    const layout = await variations(server, 'checkout-layout')
    const beta = server.getFlag('web', 'new-checkout').environments.production.rules[0]._id
    const phase = (over) => ({ ...base.phases[0], ...over })
    const two = (over = {}) => ({ ...base, advancementMode: 'manual', phases: [phase({}), phase({ clauses: [KIND, clause('segment', 'other')], description: 'Other' })], ...over })
    const cases = [
      [{ ...base, originalVariationId: undefined }, /originalVariationId is required/],
      [{ ...base, targetVariationId: 'not-a-uuid' }, /targetVariationId is required and must be a UUID/],
      [{ ...base, targetVariationId: layout.classic }, /is not a variation of flag new-checkout/],
      [{ ...base, targetVariationId: base.originalVariationId }, /must differ/],
      [{ ...base, randomizationUnit: undefined }, /randomizationUnit is required unless releasePlanKey is set/],
      [{ ...base, randomizationUnit: 'robot' }, /not a context kind of this project/],
      [{ ...base, randomizationUnit: 'legacy-account', phases: [phase({ clauses: [{ ...KIND, contextKind: 'legacy-account', values: ['legacy-account'] }] })] }, /archived context kind/],
      [{ ...base, phases: [] }, /phases is required/],
      [{ ...base, phases: undefined }, /phases is required/],
      [{ ...base, phases: [phase({ clauses: [clause('country', 'nz')] })] }, /phases\[0\]: the rule must include the clause \{"contextKind":"user","attribute":"kind","op":"in","values":\["user"\]\}, not negated and with no other values/],
      [{ ...base, phases: [phase({ clauses: [{ ...KIND, negate: true }] })] }, /must include the clause/],
      [{ ...base, phases: [phase({ clauses: [{ ...KIND, values: ['user', 'device'] }] })] }, /must include the clause/],
      [two({ phases: [phase({}), phase({ clauses: [clause('segment', 'x')], description: 'X' })] }), /phases\[1\]: the rule must include the clause/],
      [{ ...base, phases: [{ ruleId: beta, clauses: [KIND], steps: base.phases[0].steps }] }, /exactly one of ruleId .* or clauses/],
      [{ ...base, phases: [{ steps: base.phases[0].steps }] }, /exactly one of ruleId .* or clauses/],
      [two({ phases: [{ ruleId: beta, steps: base.phases[0].steps }, phase({})] }), /only a single-phase release can use an existing rule/],
      [{ ...base, phases: [{ ruleId: 'no-such-rule', steps: base.phases[0].steps }] }, /is not a rule of this flag/],
      [two({ advancementMode: undefined }), /advancementMode is required for a release with more than one phase/],
      [two({ advancementMode: 'sometimes' }), /advancementMode must be one of manual, automatic/],
      [{ ...base, phases: [phase({ steps: [] })] }, /steps must have at least one step/],
      [{ ...base, phases: [phase({ steps: [{ allocation: 20000, durationMillis: 1 }, { allocation: 20000, durationMillis: 1 }] })] }, /steps\[1\]\.allocation must be greater than the previous step's \(20000\)/],
      [{ ...base, phases: [phase({ steps: [{ allocation: 0, durationMillis: 1 }] })] }, /allocation must be an integer from 1 to 100000/],
      [{ ...base, phases: [phase({ steps: [{ allocation: 100001, durationMillis: 1 }] })] }, /allocation must be an integer from 1 to 100000/],
      [{ ...base, phases: [phase({ steps: [{ allocation: 1000, durationMillis: 0 }] })] }, /durationMillis must be a positive integer/],
      [{ ...base, metrics: [{ metricKey: 'checkout-errors' }], phases: [phase({ steps: [{ allocation: 50001, durationMillis: 1 }] })] }, /guarded releases cannot exceed 50000/],
      [{ ...base, metrics: [{ metricKey: 'checkout-health' }] }, /metric group; metric groups are not accepted/],
      [{ ...base, metrics: [{ metricKey: 'nope' }] }, /no metric "nope"/],
      [{ ...base, metrics: [{ metricKey: 'checkout-errors' }, { metricKey: 'checkout-errors' }] }, /listed twice/],
      [{ ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'like', values: [] }] })] }, /op must be one of in, endsWith/],
      [{ ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'in', values: [{}] }] })] }, /JSON primitives only/],
      [{ ...base, phases: [phase({ description: 'Beta testers' })] }, /^duplicate rule description not allowed$/],
      [{ ...base, cleanupBehavior: 'tidy' }, /cleanupBehavior must be one of/],
      [{ ...base, bypassHealthChecks: ['everything'] }, /bypassHealthChecks must be an array of flag_evaluations_any/],
      [{ ...base, beforeRuleId: 'no-such-rule' }, /beforeRuleId no-such-rule is not a rule/],
      [[base], /the body must be a JSON object/],
    ]
    for (const [body, message] of cases) await refused(server, 'POST', releasesOf('production'), { body }, 400, 'invalid_request', message)
    await refused(server, 'POST', releasesOf('production'), { body: '{"oops', headers: {} }, 400, 'invalid_request', /not valid JSON/)
    await refused(server, 'POST', releasesOf('production'), { body: JSON.stringify(base), headers: { 'Content-Type': 'text/plain' } }, 400, 'invalid_request', /Content-Type must be application\/json/)
    // A new rule that duplicates an existing one: the existing rule's clauses.
    const existing = server.getFlag('web', 'new-checkout').environments.production.rules[0]
    await refused(server, 'POST', releasesOf('production'), { body: { ...base, phases: [phase({ clauses: existing.clauses, description: 'Copy' })] } }, 400, 'invalid_request', /^new rule is exact duplicate of an existing rule at index 0$/)
    // An existing rule without the kind clause.
    server.setFlag('web', { key: 'plain', variations: [{ value: true }, { value: false }], environments: { test: { on: true, rules: [{ _id: 'rule-1', clauses: [clause('country', 'nz')], variation: 0 }] } } })
    const plain = await variations(server, 'plain')
    await refused(server, 'POST', releasesOf('test', 'plain'), { body: { originalVariationId: plain.false, targetVariationId: plain.true, randomizationUnit: 'user', phases: [{ ruleId: 'rule-1', steps: [{ allocation: 1, durationMillis: 1 }] }] } }, 400, 'invalid_request', /phases\[0\]: the rule must include the clause/)
    assert.equal((await ok(server, 'GET', releasesOf('production'))).totalCount, 0)
    assert.equal(server.getFlag('web', 'new-checkout').environments.production.rules.length, 1)
  })

  test('404 for an unknown flag or environment', async (t) => {
    const server = await start(t)
    const body = await startBody(server)
    await refused(server, 'POST', releasesOf('test', 'no-such-flag'), { body }, 404, 'not_found')
    await refused(server, 'POST', releasesOf('qa'), { body }, 404, 'not_found', /No environment qa/)
    await refused(server, 'GET', releasesOf('qa'), {}, 404, 'not_found')
    await refused(server, 'DELETE', releasesOf('test'), {}, 405, 'method_not_allowed')
  })

  test('409 when the flag is off in the environment; 409 release_already_active while one runs', async (t) => {
    const server = await start(t)
    const layout = await variations(server, 'checkout-layout')
    const body = { originalVariationId: layout.classic, targetVariationId: layout.wide, randomizationUnit: 'user', phases: [{ clauses: [KIND], steps: [{ allocation: 1000, durationMillis: MINUTE }] }] }
    await refused(server, 'POST', releasesOf('production', 'checkout-layout'), { body }, 409, 'conflict', /off in environment production/)
    const started = await startRelease(server, 'test', body, 'checkout-layout')
    assert.deepEqual([started.originalVariationValue, started.targetVariationValue], ['classic', 'wide'])
    const again = await refused(server, 'POST', releasesOf('test', 'checkout-layout'), { body: { ...body, phases: [{ clauses: [KIND, clause('x', 1)], steps: body.phases[0].steps }] } }, 409, 'release_already_active', /list the releases/)
    assert.match(again.message, new RegExp(started.id))
    // Once it has ended, a new release can start.
    server.advance(MINUTE)
    await startRelease(server, 'test', { ...body, phases: [{ clauses: [KIND, clause('x', 2)], steps: body.phases[0].steps }] }, 'checkout-layout')
  })

  test('failStartAnswer: the start takes effect but its answer is dropped, replaced or late', async (t) => {
    const server = await start(t)
    const body = await startBody(server, { phases: [[[1000, MINUTE]]] })
    const withClauses = (n) => ({ ...body, phases: [{ ...body.phases[0], clauses: [KIND, clause('try', n)], description: `try ${n}` }] })
    assert.throws(() => server.failStartAnswer({}), /needs drop, status or delayMs/)
    server.failStartAnswer({ drop: true })
    await assert.rejects(call(server, 'POST', releasesOf('test'), { body: withClauses(1) }), /fetch failed/)
    let list = await ok(server, 'GET', releasesOf('test'))
    assert.deepEqual([list.totalCount, list.items[0].status, list.items[0].phases[0].description], [1, 'in_progress', 'try 1'], 'the release was started')
    await stopRelease(server, 'test', list.items[0].id, 'roll_back_all_phases_and_remove_pending_phases')

    server.failStartAnswer({ status: 502, times: 2 })
    await refused(server, 'POST', releasesOf('test'), { body: withClauses(2) }, 502, 'internal_server_error', /the release was started/)
    // A refused start (the retry a client must not send) takes no lost answer.
    await refused(server, 'POST', releasesOf('test'), { body: withClauses(3) }, 409, 'release_already_active')
    list = await ok(server, 'GET', releasesOf('test'))
    assert.equal(list.items[0].phases[0].description, 'try 2')
    await stopRelease(server, 'test', list.items[0].id, 'roll_back_all_phases_and_remove_pending_phases')
    await refused(server, 'POST', releasesOf('test'), { body: withClauses(4) }, 502, 'internal_server_error')
    list = await ok(server, 'GET', releasesOf('test'))
    await stopRelease(server, 'test', list.items[0].id, 'roll_back_all_phases_and_remove_pending_phases')
    assert.equal((await startRelease(server, 'test', withClauses(5))).status, 'in_progress', 'back to normal answers')
    assert.equal((await ok(server, 'GET', releasesOf('test'))).totalCount, 4)

    const slow = await start(t, { clock: { start: T0 } })
    slow.failStartAnswer({ delayMs: 300 })
    const began = Date.now()
    const res = await call(slow, 'POST', releasesOf('test'), { body: withClauses(6) })
    assert.equal(res.status, 201)
    assert.ok(Date.now() - began >= 290)
    assert.equal((await ok(slow, 'GET', releasesOf('test'))).items[0].id, res.body.id)
  })

  test('400 health_checks_failed lists the failing checks (per metric for metric checks) unless bypassed', async (t) => {
    const server = await start(t, { failingHealthChecks: ['flag_evaluations_any'] })
    const progressive = await startBody(server, { phases: [[[1000, MINUTE]]] })
    let body = await refused(server, 'POST', releasesOf('test'), { body: progressive }, 400, 'health_checks_failed', /flag_evaluations_any.*bypassHealthChecks/)
    assert.deepEqual(body.failingChecks, [{ kind: 'flag_evaluations_any', message: 'The flag has not been evaluated recently.' }])
    server.setHealthChecks(['flag_evaluations_with_context', 'metric_events_with_context'], { environmentKey: 'staging' })
    const guarded = { ...progressive, metrics: [{ metricKey: 'checkout-errors' }, { metricKey: 'checkout-latency' }] }
    body = await refused(server, 'POST', releasesOf('staging'), { body: { ...guarded, bypassHealthChecks: ['flag_evaluations_any'] } }, 400, 'health_checks_failed')
    assert.deepEqual(
      body.failingChecks.map((c) => [c.kind, c.metricKey]),
      [['flag_evaluations_with_context', undefined], ['metric_events_with_context', 'checkout-errors'], ['metric_events_with_context', 'checkout-latency']],
    )
    assert.match(body.failingChecks[1].message, /checkout-errors .* kind user/)
    // Metric checks do not apply to a progressive release.
    body = await refused(server, 'POST', releasesOf('staging'), { body: progressive }, 400, 'health_checks_failed')
    assert.deepEqual(body.failingChecks.map((c) => c.kind), ['flag_evaluations_any', 'flag_evaluations_with_context'])
    // Bypassing every failing kind starts it.
    await startRelease(server, 'staging', { ...guarded, bypassHealthChecks: ['flag_evaluations_any', 'flag_evaluations_with_context', 'metric_events_with_context'] })
    server.setHealthChecks([])
    await startRelease(server, 'test', progressive)
    assert.throws(() => server.setHealthChecks(['all']), /failing must be an array/)
  })

  test('405 where the environment requires approvals, for a start and a stop', async (t) => {
    const server = await start(t, { approvalsRequired: [{ projectKey: 'web', environmentKey: 'production' }] })
    const body = await startBody(server)
    await refused(server, 'POST', releasesOf('production'), { body }, 405, 'method_not_allowed', /requires approvals/)
    server.setApprovalsRequired('web', 'production', false)
    const release = await startRelease(server, 'production', body)
    server.setApprovalsRequired('web', 'production', true)
    await refused(server, 'PUT', `${releasesOf('production')}/${release.id}/stop`, { body: { resolution: 'roll_forward_all_phases' } }, 405, 'method_not_allowed')
    assert.equal((await getRelease(server, 'production', release.id)).status, 'in_progress')
  })

  test('releasePlanKey: 422 until plans are configured; then the plan supplies the release', async (t) => {
    const server = await start(t)
    const { originalVariationId, targetVariationId } = await startBody(server)
    await refused(server, 'POST', releasesOf('test'), { body: { originalVariationId, targetVariationId, releasePlanKey: 'standard' } }, 422, 'unprocessable_entity', /release plans are not yet available/)

    const plan = { key: 'standard', randomizationUnit: 'user', advancementMode: 'manual', cleanupBehavior: 'remove_rules_and_update_default_rule', metrics: [{ metricKey: 'checkout-errors', autoRollback: true }], phases: [{ clauses: [KIND], description: 'Plan phase 1', steps: [{ allocation: 10000, durationMillis: MINUTE }] }, { clauses: [KIND, clause('plan', 2)], description: 'Plan phase 2', steps: [{ allocation: 50000, durationMillis: MINUTE }] }] }
    const planned = await start(t, { releasePlans: [{ projectKey: 'web', environmentKey: 'test', plan }] })
    await refused(planned, 'POST', releasesOf('test'), { body: { originalVariationId, targetVariationId, releasePlanKey: 'standard', randomizationUnit: 'user', phases: [] } }, 400, 'invalid_request', /the release plan supplies randomizationUnit, phases: omit them/)
    await refused(planned, 'POST', releasesOf('staging'), { body: { originalVariationId, targetVariationId, releasePlanKey: 'standard' } }, 400, 'invalid_request', /release plan "standard" not found in environment "staging"/)
    const release = await startRelease(planned, 'test', { originalVariationId, targetVariationId, releasePlanKey: 'standard' })
    assert.deepEqual([release.kind, release.advancementMode, release.cleanupBehavior, release.phases.length], ['guarded', 'manual', 'remove_rules_and_update_default_rule', 2])
    assert.deepEqual(release.phases.map((p) => p.description), ['Plan phase 1', 'Plan phase 2'])
  })
})

describe('the clock', () => {
  test('steps end and start on the fake clock; automatic advancement starts the next phase; the last phase completes the release', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[10000, MINUTE], [100000, 2 * MINUTE]], [[50000, MINUTE]]] }))
    assert.equal(server.now(), T0)
    assert.equal(server.advance(MINUTE - 1), T0 + MINUTE - 1)
    let r = await getRelease(server, 'test', release.id)
    assert.deepEqual([r.phases[0].currentStepIndex, r.phases[0].steps[0].endedAt], [0, null], 'a step lasts its whole duration')
    server.advance(1)
    r = await getRelease(server, 'test', release.id)
    assert.deepEqual([r.status, r.currentPhaseIndex, r.phases[0].currentStepIndex], ['in_progress', 0, 1])
    assert.deepEqual([r.phases[0].steps[0].endedAt, r.phases[0].steps[1].startedAt], [T0 + MINUTE, T0 + MINUTE])
    assert.deepEqual(server.getFlag('web', 'new-checkout').environments.test.rules[0].rollout.variations[0], { variation: 0, weight: 100000 })
    // One big jump goes through every change in between, at the times they were due.
    server.advance(10 * MINUTE)
    r = await getRelease(server, 'test', release.id)
    assert.equal(r.status, 'completed')
    assert.equal(r.statusReason, 'completed_automatic')
    assert.equal(r.currentPhaseIndex, null)
    assert.equal(r.endedAt, T0 + 4 * MINUTE)
    assert.deepEqual(r.phases.map((p) => [p.status, p.statusReason, p.startedAt, p.endedAt, p.currentStepIndex]), [
      ['completed', 'completed_automatic', T0, T0 + 3 * MINUTE, 1],
      ['completed', 'completed_automatic', T0 + 3 * MINUTE, T0 + 4 * MINUTE, 0],
    ])
    // leave_rules_in_place: both rules now serve the target variation.
    assert.deepEqual(server.getFlag('web', 'new-checkout').environments.test.rules.map((rule) => rule.variation), [0, 0])
    assert.throws(() => server.advance(-1), /ms must be a finite number >= 0/)
  })

  test('manual advancement waits with waiting_phase_ended and no current phase until continueRelease', async (t) => {
    const server = await start(t)
    const body = { ...(await startBody(server, { phases: [[[10000, MINUTE]], [[20000, MINUTE]], [[30000, MINUTE]]] })), advancementMode: 'manual', cleanupBehavior: 'remove_rules_and_update_default_rule' }
    const release = await startRelease(server, 'test', body)
    assert.throws(() => server.continueRelease(release.id), /is not waiting for its next phase \(status in_progress/)
    server.advance(5 * MINUTE)
    let r = await getRelease(server, 'test', release.id)
    assert.deepEqual([r.status, r.statusReason, r.currentPhaseIndex], ['waiting', 'waiting_phase_ended', null])
    assert.deepEqual(r.phases.map((p) => p.status), ['completed', 'pending', 'pending'])
    assert.equal(r.phases[0].statusReason, 'completed_automatic', 'waiting_phase_ended is never on a phase')
    const continued = server.continueRelease(release.id)
    assert.deepEqual([continued.status, continued.currentPhaseIndex, continued.phases[1].startedAt], ['in_progress', 1, T0 + 5 * MINUTE])
    server.advance(MINUTE)
    server.continueRelease(release.id)
    server.advance(MINUTE)
    r = await getRelease(server, 'test', release.id)
    assert.deepEqual([r.status, r.statusReason, r.endedAt], ['completed', 'completed_automatic', T0 + 7 * MINUTE])
    // remove_rules_and_update_default_rule: the rules are gone and the default rule serves the target.
    const env = server.getFlag('web', 'new-checkout').environments.test
    assert.deepEqual(env.rules, [])
    assert.deepEqual(env.fallthrough, { variation: 0 })
    assert.throws(() => server.continueRelease('00000000-0000-4000-8000-000000000000'), /no environment release/)
  })

  test('clock.speed: fake time runs at that multiple of real time', async (t) => {
    const server = await start(t, { clock: { start: T0, speed: 1000 } })
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[10000, 1000], [20000, 1000]]] }))
    await sleep(50) // 50 s of fake time
    const r = await getRelease(server, 'test', release.id)
    assert.equal(r.status, 'completed')
    assert.ok(server.now() >= T0 + 50000)
    await assert.rejects(startFakeLaunchDarkly({ clock: { speed: -1 } }), /clock.speed must be a finite number >= 0/)
  })

  test('`ld-release fake --speed` runs the clock faster; a bad --speed is a usage error', async (t) => {
    const bin = new URL('../bin/ld-release.js', import.meta.url).pathname
    const bad = spawn(process.execPath, [bin, 'fake', '--speed', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let badErr = ''
    bad.stderr.on('data', (d) => (badErr += d))
    assert.equal((await once(bad, 'exit'))[0], 2)
    assert.match(badErr, /^error: --speed must be a number greater than 0/)

    const child = spawn(process.execPath, [bin, 'fake', '--speed', '600', '--env', 'dotenv'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = once(child, 'exit')
    t.after(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'))
    let out = ''
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    const vars = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no variables printed within 20 s: ${out} ${err}`)), 20_000)
      child.stdout.on('data', (d) => {
        out += d
        const url = /^LD_BASE_URI=(\S+)$/m.exec(out)
        const token = /^LD_ACCESS_TOKEN=(\S+)$/m.exec(out)
        if (url && token) {
          clearTimeout(timer)
          resolve({ url: url[1], apiKey: token[1] })
        }
      })
      exited.then(() => {
        clearTimeout(timer)
        reject(new Error(err))
      })
    })
    assert.match(err, /move at 600× real time/)
    const release = await startRelease(vars, 'test', await startBody(vars, { phases: [[[10000, MINUTE]]] }))
    await sleep(150) // 90 s of fake time: the minute-long step is over
    assert.equal((await getRelease(vars, 'test', release.id)).status, 'completed')
    child.kill('SIGTERM')
    assert.equal((await exited)[0], 0)
  })
})

describe('regressions', () => {
  const guarded = (server, autoRollback) => startBody(server, { phases: [[[5000, MINUTE], [50000, MINUTE]], [[50000, MINUTE]]], extra: { metrics: [{ metricKey: 'checkout-errors', autoRollback }] } })

  test('with autoRollback, a regression reverts the release (reverted_regression_detected) and discards pending phases', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await guarded(server, true))
    server.advance(30000)
    const r = server.reportRegression(release.id, 'checkout-errors')
    assert.deepEqual([r.status, r.statusReason, r.currentPhaseIndex, r.endedAt], ['reverted', 'reverted_regression_detected', null, T0 + 30000])
    assert.deepEqual(r.phases.map((p) => [p.status, p.statusReason]), [['reverted', 'reverted_regression_detected'], ['reverted', 'reverted_discarded']])
    assert.equal(r.phases[0].metricStatuses['checkout-errors'], 'regressed')
    assert.equal(r.phases[0].steps[0].endedAt, T0 + 30000)
    assert.deepEqual(await getRelease(server, 'test', release.id), r)
    // The running rule serves the original variation; the discarded one is gone.
    assert.deepEqual(server.getFlag('web', 'new-checkout').environments.test.rules.map((rule) => [rule._id, rule.variation]), [[r.phases[0].ruleId, 1]])
    assert.throws(() => server.reportRegression(release.id, 'checkout-errors'), /has no running phase/)
  })

  test('without autoRollback, a regression pauses the release (waiting_regression_detected) until dismissed; the step resumes where it stopped', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await guarded(server, false))
    server.advance(20000)
    let r = server.reportRegression(release.id, 'checkout-errors')
    assert.deepEqual([r.status, r.statusReason, r.currentPhaseIndex], ['waiting', 'waiting_regression_detected', 0])
    assert.deepEqual([r.phases[0].status, r.phases[0].statusReason, r.phases[0].metricStatuses['checkout-errors']], ['waiting', 'waiting_regression_detected', 'regressed'])
    server.advance(10 * MINUTE)
    r = await getRelease(server, 'test', release.id)
    assert.deepEqual([r.status, r.phases[0].currentStepIndex], ['waiting', 0], 'nothing moves while it waits')
    r = server.dismissRegression(release.id, 'checkout-errors')
    assert.deepEqual([r.status, r.statusReason, r.phases[0].metricStatuses['checkout-errors']], ['in_progress', null, 'regression_dismissed'])
    server.advance(40000 - 1)
    assert.equal((await getRelease(server, 'test', release.id)).phases[0].currentStepIndex, 0)
    server.advance(1)
    r = await getRelease(server, 'test', release.id)
    assert.equal(r.phases[0].currentStepIndex, 1)
    assert.equal(r.phases[0].steps[0].endedAt, T0 + MINUTE + 10 * MINUTE)
    assert.throws(() => server.dismissRegression(release.id, 'checkout-errors'), /no regression to dismiss/)
    assert.throws(() => server.reportRegression(release.id, 'checkout-latency'), /has no metric checkout-latency/)
  })

  test('turning the flag off discards the running phase: reverted_discarded', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await guarded(server, false))
    server.setFlagOn('web', 'new-checkout', 'test', false)
    const r = await getRelease(server, 'test', release.id)
    assert.deepEqual([r.status, r.statusReason], ['reverted', 'reverted_discarded'])
    assert.deepEqual(r.phases.map((p) => p.statusReason), ['reverted_discarded', 'reverted_discarded'])
  })
})

describe('stopping a release', () => {
  /** Three one-step phases, automatic, with clauses of their own (`n`). */
  async function threePhases(server, n) {
    const body = await startBody(server, { phases: [[[10000, MINUTE]], [[20000, MINUTE]], [[30000, MINUTE]]] })
    return { ...body, phases: body.phases.map((p, i) => ({ ...p, clauses: [KIND, clause('n', `${n}-${i}`)], description: `${n}-${i}` })) }
  }
  const cases = [
    ['roll_forward_all_phases', 'completed', 'completed_manual', [['completed', 'completed_automatic'], ['completed', 'completed_manual'], ['completed', 'completed_manual']], [0, 0, 0]],
    ['roll_forward_current_phase_and_remove_pending_phases', 'completed', 'completed_manual', [['completed', 'completed_automatic'], ['completed', 'completed_manual'], ['reverted', 'reverted_discarded']], [0, 0]],
    ['roll_back_all_phases_and_remove_pending_phases', 'reverted', 'reverted_manual', [['reverted', 'reverted_manual'], ['reverted', 'reverted_manual'], ['reverted', 'reverted_discarded']], [1, 1]],
    ['roll_back_current_phase_and_remove_pending_phases', 'reverted', 'reverted_manual', [['completed', 'completed_automatic'], ['reverted', 'reverted_manual'], ['reverted', 'reverted_discarded']], [0, 1]],
  ]
  for (const [n, [resolution, status, reason, phases, served]] of cases.entries()) {
    test(`${resolution}: ${status} (${reason}), phases ${phases.map((p) => p[0]).join(', ')}`, async (t) => {
      const server = await start(t)
      const release = await startRelease(server, 'test', await threePhases(server, n))
      server.advance(MINUTE + 1000) // phase 0 done, phase 1 running
      const r = await stopRelease(server, 'test', release.id, resolution)
      assert.deepEqual([r.status, r.statusReason, r.currentPhaseIndex, r.endedAt], [status, reason, null, T0 + MINUTE + 1000])
      assert.deepEqual(r.phases.map((p) => [p.status, p.statusReason]), phases)
      assert.equal(r.phases[1].steps[0].endedAt, T0 + MINUTE + 1000)
      assert.deepEqual(server.getFlag('web', 'new-checkout').environments.test.rules.map((rule) => rule.variation), served, 'what the rules serve (pending ones removed)')
      // Stopping it again: 200, unchanged, for every resolution.
      for (const other of cases.map((c) => c[0])) assert.deepEqual(await stopRelease(server, 'test', release.id, other), r)
      server.advance(DAY)
      assert.deepEqual(await getRelease(server, 'test', release.id), r, 'a stopped release does not move')
    })
  }

  test('between phases the current_phase resolutions are 400; all_phases ones work', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', { ...(await threePhases(server, 9)), advancementMode: 'manual' })
    server.advance(MINUTE)
    for (const resolution of ['roll_forward_current_phase_and_remove_pending_phases', 'roll_back_current_phase_and_remove_pending_phases']) {
      await refused(server, 'PUT', `${releasesOf('test')}/${release.id}/stop`, { body: { resolution } }, 400, 'invalid_request', /between phases/)
    }
    const r = await stopRelease(server, 'test', release.id, 'roll_back_all_phases_and_remove_pending_phases')
    assert.deepEqual(r.phases.map((p) => p.status), ['reverted', 'reverted', 'reverted'])
  })

  test('a pending release stopped with roll_forward_all_phases completes every phase', async (t) => {
    const server = await start(t, { releasePendingMs: MINUTE })
    const release = await startRelease(server, 'test', await threePhases(server, 8))
    const r = await stopRelease(server, 'test', release.id, 'roll_forward_all_phases')
    assert.deepEqual([r.status, r.phases.map((p) => p.status)], ['completed', ['completed', 'completed', 'completed']])
  })

  test('a bad resolution or comment is 400; an unknown release, or one of another flag or environment, is 404', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server))
    const stop = `${releasesOf('test')}/${release.id}/stop`
    await refused(server, 'PUT', stop, { body: { resolution: 'undo' } }, 400, 'invalid_request', /resolution must be one of roll_forward_all_phases/)
    await refused(server, 'PUT', stop, { body: {} }, 400, 'invalid_request', /resolution must be one of/)
    await refused(server, 'PUT', stop, { body: { resolution: 'roll_forward_all_phases', comment: 5 } }, 400, 'invalid_request', /comment must be a string/)
    await refused(server, 'POST', stop, { body: { resolution: 'roll_forward_all_phases' } }, 405, 'method_not_allowed')
    await refused(server, 'PUT', `${releasesOf('staging')}/${release.id}/stop`, { body: { resolution: 'roll_forward_all_phases' } }, 404, 'not_found')
    await refused(server, 'GET', `${releasesOf('staging')}/${release.id}`, {}, 404, 'not_found')
    await refused(server, 'GET', `${releasesOf('test')}/00000000-0000-4000-8000-000000000000`, {}, 404, 'not_found')
    await refused(server, 'DELETE', `${releasesOf('test')}/${release.id}`, {}, 405, 'method_not_allowed')
    assert.equal((await getRelease(server, 'test', release.id)).status, 'in_progress')
  })

  test('a release that ended over 90 days ago is 404 for get and stop, and left out of the list', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[10000, 1000]]] }))
    server.advance(1000 + 90 * DAY)
    assert.equal((await getRelease(server, 'test', release.id)).status, 'completed', 'exactly 90 days: still there')
    assert.equal((await ok(server, 'GET', releasesOf('test'))).totalCount, 1)
    server.advance(1)
    await refused(server, 'GET', `${releasesOf('test')}/${release.id}`, {}, 404, 'not_found')
    await refused(server, 'PUT', `${releasesOf('test')}/${release.id}/stop`, { body: { resolution: 'roll_forward_all_phases' } }, 404, 'not_found')
    assert.deepEqual((await ok(server, 'GET', releasesOf('test'))).items, [])
    assert.throws(() => server.getEnvironmentRelease('nope'), /no environment release nope/)
    assert.equal(server.getEnvironmentRelease(release.id).id, release.id, 'the control still sees it')
  })
})

describe('listing releases', () => {
  /** `count` releases in test, each stopped at once, one minute apart; guarded every third. */
  async function many(server, count) {
    const ids = []
    for (let i = 0; i < count; i++) {
      const body = await startBody(server, { phases: [[[1000, MINUTE]]], extra: i % 3 === 0 ? { metrics: [{ metricKey: 'checkout-errors' }] } : {} })
      body.phases[0].clauses = [KIND, clause('n', i)]
      body.phases[0].description = `Release ${i}`
      const release = await startRelease(server, 'test', body)
      await stopRelease(server, 'test', release.id, 'roll_back_all_phases_and_remove_pending_phases')
      ids.push(release.id)
      server.advance(MINUTE)
    }
    return ids
  }
  const query = (href) => href.slice(href.indexOf('?'))

  test('newest first, 25 by default, links first/prev/next/last/self/parent with one _snapshot; an empty list has no prev or next', async (t) => {
    const server = await start(t)
    const empty = await ok(server, 'GET', releasesOf('test'))
    assert.deepEqual([empty.items, empty.totalCount], [[], 0])
    assert.deepEqual(Object.keys(empty._links).sort(), ['first', 'last', 'parent', 'self'])
    const ids = (await many(server, 30)).reverse()
    const page = await ok(server, 'GET', releasesOf('test'))
    assert.equal(page.totalCount, 30)
    assert.deepEqual(page.items.map((r) => r.id), ids.slice(0, 25))
    assert.ok(page.items.every((r, i) => i === 0 || page.items[i - 1].createdAt >= r.createdAt))
    const snapshot = /_snapshot=(\d+)/.exec(page._links.self.href)[1]
    assert.equal(page._links.parent.href, FLAG)
    assert.equal(query(page._links.first.href), `?limit=25&offset=0&_snapshot=${snapshot}`)
    assert.equal(query(page._links.next.href), `?limit=25&offset=25&_snapshot=${snapshot}`)
    assert.equal(query(page._links.last.href), `?limit=25&offset=25&_snapshot=${snapshot}`)
    assert.ok(!('prev' in page._links))
    for (const link of Object.values(page._links)) assert.equal(link.type, 'application/json')

    // A release started after the first page is not in the pages its links lead to.
    await startRelease(server, 'test', await startBody(server))
    const next = await ok(server, 'GET', page._links.next.href)
    assert.equal(next.totalCount, 30)
    assert.deepEqual(next.items.map((r) => r.id), ids.slice(25))
    assert.equal(query(next._links.prev.href), `?limit=25&offset=0&_snapshot=${snapshot}`)
    assert.ok(!('next' in next._links))
    assert.equal((await ok(server, 'GET', releasesOf('test'))).totalCount, 31, 'without the snapshot: all of them')
    assert.equal((await ok(server, 'GET', `${releasesOf('test')}?_snapshot=banana`)).totalCount, 31, 'an out-of-range snapshot is ignored')
    assert.equal((await ok(server, 'GET', `${releasesOf('test')}?_snapshot=99999999999999999999`)).totalCount, 31)
  })

  test('limit and offset; limit over 100 is 400 saying it must be at most 100; the kind filter', async (t) => {
    const server = await start(t)
    const ids = (await many(server, 7)).reverse()
    const middle = await ok(server, 'GET', `${releasesOf('test')}?limit=2&offset=3`)
    assert.deepEqual(middle.items.map((r) => r.id), ids.slice(3, 5))
    assert.deepEqual(['first', 'prev', 'next', 'last'].map((k) => /offset=(\d+)/.exec(middle._links[k].href)[1]), ['0', '1', '5', '6'])
    assert.equal((await ok(server, 'GET', `${releasesOf('test')}?limit=100`)).items.length, 7)
    assert.equal((await ok(server, 'GET', `${releasesOf('test')}?offset=50`)).items.length, 0)
    await refused(server, 'GET', `${releasesOf('test')}?limit=101`, {}, 400, 'invalid_request', /^limit must be at most 100$/)
    for (const bad of ['limit=0', 'limit=-1', 'limit=ten', 'limit=2.5']) await refused(server, 'GET', `${releasesOf('test')}?${bad}`, {}, 400, 'invalid_request', /limit must be an integer from 1 to 100/)
    await refused(server, 'GET', `${releasesOf('test')}?offset=-3`, {}, 400, 'invalid_request', /offset must be a non-negative integer/)

    const guarded = await ok(server, 'GET', `${releasesOf('test')}?filter=${encodeURIComponent('kind equals guarded')}`)
    assert.deepEqual(guarded.items.map((r) => r.id), [ids[0], ids[3], ids[6]])
    assert.ok(guarded.items.every((r) => r.kind === 'guarded' && !r.metrics.some((m) => 'definition' in m)))
    assert.match(guarded._links.self.href, /filter=kind\+equals\+guarded/)
    const progressive = await ok(server, 'GET', `${releasesOf('test')}?filter=${encodeURIComponent('kind equals "progressive"')}`)
    assert.equal(progressive.totalCount, 4)
    await refused(server, 'GET', `${releasesOf('test')}?filter=${encodeURIComponent('status equals completed')}`, {}, 400, 'invalid_request', /the only filter is kind equals progressive or kind equals guarded/)
    await refused(server, 'GET', `${releasesOf('test')}?filter=${encodeURIComponent('kind equals experimental')}`, {}, 400, 'invalid_request')
  })
})

describe('release policies', () => {
  const policy = (over = {}) => ({ key: 'staging-progressive', name: 'Progressive in staging', releaseMethod: 'progressive-release', scope: { environmentKeys: ['staging'] }, progressiveReleaseConfig: { rolloutContextKindKey: 'user', stages: [{ allocation: 10000, durationMillis: MINUTE }] }, ...over })

  test('list (ReleasePoliciesResponse), excludeDefault, get, create, update, delete', async (t) => {
    const server = await start(t)
    const list = await ok(server, 'GET', POLICIES)
    assert.deepEqual(list.items.map((p) => [p.key, p.rank, p.releaseMethod]), [['production-guarded', 1, 'guarded-release'], ['default', 0, 'progressive-release']])
    assert.equal(list.totalCount, 2)
    assert.deepEqual((await ok(server, 'GET', `${POLICIES}?excludeDefault=true`)).items.map((p) => p.key), ['production-guarded'])
    await refused(server, 'GET', `${POLICIES}?excludeDefault=yes`, {}, 400, 'invalid_request', /excludeDefault must be true or false/)
    const got = await ok(server, 'GET', `${POLICIES}/production-guarded`)
    assert.deepEqual(got.scope, { environmentKeys: ['production'] })
    assert.equal(got.guardedReleaseConfig.rollbackOnRegression, true)
    assert.equal(typeof got._id, 'string')

    const created = await ok(server, 'POST', POLICIES, { body: policy() }, 201)
    assert.deepEqual([created.key, created.rank, created.guardedReleaseConfig], ['staging-progressive', 2, null])
    assert.deepEqual(await ok(server, 'GET', `${POLICIES}/staging-progressive`), created)
    const updated = await ok(server, 'PUT', `${POLICIES}/staging-progressive`, { body: { name: 'Immediate in staging', releaseMethod: 'immediate-release', scope: { environmentKeys: ['staging'], flagTagKeys: ['checkout'] } } })
    assert.deepEqual([updated.key, updated.name, updated.releaseMethod, updated.progressiveReleaseConfig, updated._id, updated.rank], ['staging-progressive', 'Immediate in staging', 'immediate-release', null, created._id, 2])
    const deleted = await call(server, 'DELETE', `${POLICIES}/staging-progressive`)
    assert.deepEqual([deleted.status, deleted.body], [204, null])
    await refused(server, 'GET', `${POLICIES}/staging-progressive`, {}, 404, 'not_found')
    await refused(server, 'DELETE', `${POLICIES}/staging-progressive`, {}, 404, 'not_found')
    await refused(server, 'PATCH', `${POLICIES}/default`, { body: {} }, 405, 'method_not_allowed')
  })

  test('every invalid policy is a 400 that says what is wrong; a key in use is 409', async (t) => {
    const server = await start(t)
    const cases = [
      [policy({ key: 'has space' }), /key is required/],
      [policy({ name: '' }), /name is required/],
      [policy({ name: 'x'.repeat(257) }), /name must be at most 256 characters/],
      [policy({ releaseMethod: 'big-bang' }), /releaseMethod must be one of guarded-release, immediate-release, progressive-release/],
      [policy({ scope: { environmentKeys: ['qa'] } }), /no environment "qa"/],
      [policy({ scope: { flagTagKeys: ['bad tag'] } }), /each key must only contain letters, numbers/],
      [policy({ scope: { flagTagKeys: ['x'.repeat(65)] } }), /at most 64 characters/],
      [policy({ scope: { flagTagKeys: Array.from({ length: 1001 }, (_, i) => `t${i}`) } }), /at most 1000 keys/],
      [policy({ progressiveReleaseConfig: { stages: Array.from({ length: 11 }, (_, i) => ({ allocation: i + 1, durationMillis: 1 })) } }), /at most 10 stages/],
      [policy({ progressiveReleaseConfig: { stages: [{ allocation: 1 }] } }), /needs integer allocation and durationMillis/],
      [policy({ guardedReleaseConfig: { metricKeys: ['checkout-errors'] } }), /guardedReleaseConfig does not apply to a progressive-release policy/],
      [policy({ releaseMethod: 'guarded-release', progressiveReleaseConfig: undefined, guardedReleaseConfig: { metricKeys: ['nope'] } }), /no metric "nope"/],
      [policy({ releaseMethod: 'immediate-release' }), /immediate-release policy takes no/],
      [policy({ scope: null }), /already has a default release policy/],
      [policy({ key: 'order' }), /reserved/],
    ]
    for (const [body, message] of cases) await refused(server, 'POST', POLICIES, { body }, 400, 'invalid_request', message)
    await refused(server, 'POST', POLICIES, { body: policy({ key: 'production-guarded' }) }, 409, 'conflict', /already exists/)
    await refused(server, 'PUT', `${POLICIES}/production-guarded`, { body: { name: 'x', releaseMethod: 'immediate-release' } }, 400, 'invalid_request', /must keep a scope/)
    await refused(server, 'PUT', `${POLICIES}/default`, { body: { name: 'x', releaseMethod: 'immediate-release', scope: { environmentKeys: ['test'] } } }, 400, 'invalid_request', /cannot be given a scope/)
    await refused(server, 'PUT', `${POLICIES}/nope`, { body: { name: 'x', releaseMethod: 'immediate-release' } }, 404, 'not_found')
    assert.equal((await ok(server, 'GET', POLICIES)).totalCount, 2)
  })

  test('order: all of the scoped policies, once each, no default; answers the scoped policies in their new ranks', async (t) => {
    const server = await start(t)
    await ok(server, 'POST', POLICIES, { body: policy() }, 201)
    await ok(server, 'POST', POLICIES, { body: policy({ key: 'test-immediate', releaseMethod: 'immediate-release', progressiveReleaseConfig: undefined, scope: { environmentKeys: ['test'] } }) }, 201)
    const order = `${POLICIES}/order`
    await refused(server, 'POST', order, { body: ['test-immediate', 'production-guarded'] }, 400, 'invalid_request', /must include all of the scoped release policies; missing: staging-progressive/)
    await refused(server, 'POST', order, { body: ['test-immediate', 'production-guarded', 'staging-progressive', 'nope'] }, 400, 'invalid_request', /no release policy "nope"/)
    await refused(server, 'POST', order, { body: ['test-immediate', 'test-immediate', 'production-guarded', 'staging-progressive'] }, 400, 'invalid_request', /only once/)
    await refused(server, 'POST', order, { body: ['default', 'test-immediate', 'production-guarded', 'staging-progressive'] }, 400, 'invalid_request', /default release policy/)
    await refused(server, 'POST', order, { body: { keys: [] } }, 400, 'invalid_request', /array of release policy keys/)
    await refused(server, 'GET', order, {}, 405, 'method_not_allowed')
    const ordered = await ok(server, 'POST', order, { body: ['test-immediate', 'staging-progressive', 'production-guarded'] })
    assert.deepEqual(ordered.map((p) => [p.key, p.rank]), [['test-immediate', 1], ['staging-progressive', 2], ['production-guarded', 3]])
    assert.deepEqual((await ok(server, 'GET', POLICIES)).items.map((p) => p.key), ['test-immediate', 'staging-progressive', 'production-guarded', 'default'])
    // Deleting one closes the gap.
    await call(server, 'DELETE', `${POLICIES}/staging-progressive`)
    assert.deepEqual((await ok(server, 'GET', `${POLICIES}?excludeDefault=true`)).items.map((p) => [p.key, p.rank]), [['test-immediate', 1], ['production-guarded', 2]])
  })
})

describe('the sample data', () => {
  test('a flag as GET answers it: every FeatureFlag field the fake fills in, per environment its name, site and salts', async (t) => {
    const server = await start(t)
    const flag = await ok(server, 'GET', '/api/v2/flags/web/progressive-checkout', { beta: false })
    const { environments, variations: vars, ...top } = flag
    assert.deepEqual(top, {
      key: 'progressive-checkout',
      name: 'Progressive checkout',
      kind: 'boolean',
      description: '',
      _version: 1,
      creationDate: 1764300000000,
      includeInSnippet: false,
      clientSideAvailability: { usingMobileKey: false, usingEnvironmentId: false },
      temporary: false,
      tags: [],
      _links: { parent: { href: '/api/v2/flags/web', type: 'application/json' }, self: { href: '/api/v2/flags/web/progressive-checkout', type: 'application/json' } },
      maintainerId: null,
      archived: false,
      deprecated: false,
      customProperties: {},
      experiments: { baselineIdx: 0, items: [] },
    })
    assert.deepEqual(vars.map((v) => [v.value, v.name]), [[true, 'Enabled'], [false, 'Disabled']])
    assert.deepEqual(Object.keys(environments), ['test', 'staging', 'production'])
    const names = { test: 'Test', staging: 'Staging', production: 'Production' }
    for (const [key, env] of Object.entries(environments)) {
      const { salt, sel, ...rest } = env
      assert.deepEqual(rest, {
        on: true,
        archived: false,
        lastModified: T0,
        version: 1,
        targets: [],
        contextTargets: [],
        rules: [],
        fallthrough: { variation: 1 },
        offVariation: 1,
        prerequisites: [],
        trackEvents: false,
        trackEventsFallthrough: false,
        _environmentName: names[key],
        _site: { href: `/web/features/progressive-checkout/targeting?env=${key}`, type: 'text/html' },
        _summary: { variations: {}, prerequisites: 0 },
      })
      assert.match(salt, /^[0-9a-f]{32}$/)
      assert.match(sel, /^[0-9a-f]{32}$/)
      assert.notEqual(salt, sel)
    }
    // Salts differ between environments and flags, and are the same in every fake.
    const salts = Object.values(environments).map((e) => e.salt)
    assert.equal(new Set(salts).size, 3)
    assert.equal(new Set(Object.values(environments).map((e) => e.sel)).size, 3)
    const layout = await ok(server, 'GET', '/api/v2/flags/web/checkout-layout?env=test,production')
    assert.deepEqual(Object.keys(layout.environments), ['test', 'production'])
    assert.notEqual(layout.environments.test.salt, environments.test.salt)
    const again = await ok(await start(t), 'GET', '/api/v2/flags/web/progressive-checkout')
    assert.deepEqual(Object.values(again.environments).map((e) => [e.salt, e.sel]), Object.values(environments).map((e) => [e.salt, e.sel]))
  })

  test('the sample flags: names, kinds, variations, tags, where each is on, and the Beta testers rule', async (t) => {
    const server = await start(t)
    const summary = async (key) => {
      const flag = await ok(server, 'GET', `/api/v2/flags/web/${key}`)
      const on = Object.entries(flag.environments).filter(([, e]) => e.on).map(([k]) => k)
      const served = Object.values(flag.environments).map((e) => [e.fallthrough.variation, e.offVariation])
      return [flag.name, flag.kind, flag.variations.map((v) => [v.value, v.name]), flag.tags, on, served]
    }
    assert.deepEqual(await summary('new-checkout'), ['New checkout', 'boolean', [[true, 'Enabled'], [false, 'Disabled']], ['checkout'], ['test', 'staging', 'production'], [[1, 1], [1, 1], [1, 1]]])
    assert.deepEqual(await summary('checkout-layout'), ['Checkout layout', 'multivariate', [['classic', 'Classic'], ['compact', 'Compact'], ['wide', 'Wide']], ['checkout'], ['test', 'staging'], [[0, 0], [0, 0], [0, 0]]])
    assert.deepEqual(await summary('progressive-checkout'), ['Progressive checkout', 'boolean', [[true, 'Enabled'], [false, 'Disabled']], [], ['test', 'staging', 'production'], [[1, 1], [1, 1], [1, 1]]])
    const flag = await ok(server, 'GET', FLAG)
    assert.deepEqual(flag.environments.test.rules, [])
    const [rule] = flag.environments.production.rules
    assert.deepEqual(rule, {
      _id: rule._id,
      description: 'Beta testers',
      clauses: [{ ...KIND, negate: false }, { contextKind: 'user', attribute: 'email', op: 'endsWith', values: ['@example.com'], negate: false }],
      variation: 1,
      trackEvents: false,
    })
    assert.match(rule._id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/)
    // Every variation id differs.
    const ids = []
    for (const key of ['new-checkout', 'checkout-layout', 'progressive-checkout']) ids.push(...(await ok(server, 'GET', `/api/v2/flags/web/${key}`)).variations.map((v) => v._id))
    assert.equal(new Set(ids).size, 7)
  })

  test('the sample context kinds: user, organization and device take a release; legacy-account is archived', async (t) => {
    const server = await start(t)
    const v = await variations(server)
    for (const [i, unit] of ['user', 'organization', 'device'].entries()) {
      const kind = { contextKind: unit, attribute: 'kind', op: 'in', values: [unit] }
      const env = ['test', 'staging', 'production'][i]
      const release = await startRelease(server, env, { originalVariationId: v.false, targetVariationId: v.true, randomizationUnit: unit, phases: [{ clauses: [kind], steps: [{ allocation: 1000, durationMillis: MINUTE }] }] })
      assert.equal(release.randomizationUnit, unit)
    }
    const legacy = { contextKind: 'legacy-account', attribute: 'kind', op: 'in', values: ['legacy-account'] }
    await refused(server, 'POST', releasesOf('test', 'progressive-checkout'), { body: { originalVariationId: (await variations(server, 'progressive-checkout')).false, targetVariationId: (await variations(server, 'progressive-checkout')).true, randomizationUnit: 'legacy-account', phases: [{ clauses: [legacy], steps: [{ allocation: 1000, durationMillis: MINUTE }] }] } }, 400, 'invalid_request', /^randomizationUnit "legacy-account" is an archived context kind$/)
  })

  test('the sample metrics, as expand=metrics defines them', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[5000, MINUTE]]], extra: { metrics: [{ metricKey: 'checkout-errors' }, { metricKey: 'checkout-latency' }] } }))
    const expanded = await getRelease(server, 'test', release.id, '?expand=metrics')
    const [errors, latency] = expanded.metrics.map((m) => m.definition)
    const common = {
      _version: 1,
      kind: 'custom',
      description: null,
      analysisUnits: ['user'],
      tags: [],
      _creationDate: 1764300000000,
      dataSource: { key: 'launchdarkly', _name: 'LaunchDarkly' },
      archived: false,
    }
    assert.deepEqual(errors, {
      ...common,
      _id: errors._id,
      _versionId: release.metrics[0].metricVersionId,
      key: 'checkout-errors',
      name: 'Checkout errors',
      isNumeric: false,
      eventKey: 'checkout-error',
      unit: null,
      _links: { self: { href: '/api/v2/metrics/web/checkout-errors', type: 'application/json' } },
    })
    assert.deepEqual(latency, {
      ...common,
      _id: latency._id,
      _versionId: release.metrics[1].metricVersionId,
      key: 'checkout-latency',
      name: 'Checkout latency',
      isNumeric: true,
      eventKey: 'checkout-latency',
      unit: 'ms',
      _links: { self: { href: '/api/v2/metrics/web/checkout-latency', type: 'application/json' } },
    })
    for (const d of [errors, latency]) assert.match(d._id, /^[0-9a-f-]{36}$/)
    assert.notEqual(errors._id, latency._id)
    assert.notEqual(release.metrics[0].metricVersionId, release.metrics[1].metricVersionId)
    // expand may list several values, in one parameter or several.
    assert.ok((await getRelease(server, 'test', release.id, '?expand=phases,metrics')).metrics[0].definition)
    assert.ok((await getRelease(server, 'test', release.id, '?expand=phases&expand=metrics')).metrics[0].definition)
    assert.ok(!('definition' in (await getRelease(server, 'test', release.id, '?expand=phases')).metrics[0]))
  })

  test('the sample release policies, in full; each project has its own, with ids of their own', async (t) => {
    const server = await start(t)
    const { items } = await ok(server, 'GET', POLICIES)
    const ids = items.map((p) => p._id)
    assert.deepEqual(items, [
      {
        _id: ids[0],
        key: 'production-guarded',
        name: 'Guarded releases in production',
        scope: { environmentKeys: ['production'] },
        rank: 1,
        releaseMethod: 'guarded-release',
        guardedReleaseConfig: {
          rolloutContextKindKey: 'user',
          minSampleSize: 100,
          rollbackOnRegression: true,
          metricKeys: ['checkout-errors'],
          stages: [{ allocation: 10000, durationMillis: 3600000 }, { allocation: 50000, durationMillis: 3600000 }],
        },
        progressiveReleaseConfig: null,
      },
      {
        _id: ids[1],
        key: 'default',
        name: 'Default release policy',
        scope: null,
        rank: 0,
        releaseMethod: 'progressive-release',
        guardedReleaseConfig: null,
        progressiveReleaseConfig: { rolloutContextKindKey: 'user', stages: [{ allocation: 25000, durationMillis: 3600000 }, { allocation: 100000, durationMillis: 3600000 }] },
      },
    ])
    const other = (await ok(server, 'GET', '/api/v2/projects/mobile/release-policies')).items
    assert.deepEqual(other.map((p) => p.key), ['production-guarded', 'default'])
    const all = [...ids, ...other.map((p) => p._id)]
    assert.ok(all.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/.test(id)))
    assert.equal(new Set(all).size, 4)
  })
})

describe('routes', () => {
  test('a path that is not one of these routes is 404 Invalid resource identifier', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server))
    const base = releasesOf('test')
    const paths = [
      `${base}/${release.id}/stop/now`,
      `${base}/${release.id}/cancel`,
      '/api/v2/projectz/web/flags/new-checkout/environments/test/releases',
      '/api/v2/projects/web/flagz/new-checkout/environments/test/releases',
      '/api/v2/projects/web/flags/new-checkout/environmentz/test/releases',
      '/api/v2/projects/web/flags/new-checkout/environments/test/releasez',
      '/api/v2/projects/web/flags/new-checkout/environments/test',
      '/api/v2/projects//flags/new-checkout/environments/test/releases',
      `/api/v2/projects/web/flags/new-checkout/environments/test/releases/%ZZ`,
      `${POLICIES}/default/extra`,
      '/api/v2/projectz/web/release-policies',
      '/api/v2/projects/%ZZ/release-policies',
      '/api/v2/projects/web/release-policiez',
      '/api/v2/flags/web/new-checkout/extra',
      '/api/v2/flags//new-checkout',
      '/api/v2/flagz/web/new-checkout',
    ]
    for (const path of paths) await refused(server, 'GET', path, {}, 404, 'not_found', /^Invalid resource identifier$/)
    await refused(server, 'PUT', `${base}/${release.id}/cancel`, { body: { resolution: 'roll_back_all_phases_and_remove_pending_phases' } }, 404, 'not_found', /^Invalid resource identifier$/)
    assert.equal((await getRelease(server, 'test', release.id)).status, 'in_progress')
    // Keys are percent-decoded.
    assert.equal((await ok(server, 'GET', `/api/v2/projects/web/flags/new%2Dcheckout/environments/te%73t/releases/${release.id}`)).id, release.id)
    assert.equal((await ok(server, 'GET', `${POLICIES}/produc%74ion-guarded`)).key, 'production-guarded')
  })

  test('405 names the method and the path; 404 names what is missing', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server))
    const base = releasesOf('test')
    const cases = [
      ['POST', FLAG],
      ['DELETE', base],
      ['DELETE', `${base}/${release.id}`],
      ['GET', `${base}/${release.id}/stop`],
      ['PATCH', POLICIES],
      ['GET', `${POLICIES}/order`],
      ['PATCH', `${POLICIES}/default`],
    ]
    for (const [method, path] of cases) await refused(server, method, path, { body: method === 'GET' || method === 'DELETE' ? undefined : {} }, 405, 'method_not_allowed', new RegExp(`^${method} is not allowed on ${path}$`))
    assert.equal((await ok(server, 'GET', POLICIES)).totalCount, 2, 'the PATCH created nothing')
    await refused(server, 'GET', '/api/v2/flags/web/nope', {}, 404, 'not_found', /^No flag nope in project web$/)
    await refused(server, 'GET', releasesOf('test', 'nope'), {}, 404, 'not_found', /^No flag nope in project web$/)
    await refused(server, 'GET', releasesOf('qa'), {}, 404, 'not_found', /^No environment qa in project web$/)
    const id = '00000000-0000-4000-8000-000000000000'
    await refused(server, 'GET', `${base}/${id}`, {}, 404, 'not_found', new RegExp(`^No environment release ${id} for flag new-checkout in test$`))
    await refused(server, 'GET', `${POLICIES}/nope`, {}, 404, 'not_found', /^No release policy nope in project web$/)
    // A release is found only under its own project, flag and environment.
    await refused(server, 'GET', `${releasesOf('test', 'new-checkout', 'mobile')}/${release.id}`, {}, 404, 'not_found')
    await refused(server, 'GET', `${releasesOf('test', 'progressive-checkout')}/${release.id}`, {}, 404, 'not_found')
    await refused(server, 'PUT', `${releasesOf('test', 'progressive-checkout')}/${release.id}/stop`, { body: { resolution: 'roll_forward_all_phases' } }, 404, 'not_found')
    assert.equal((await getRelease(server, 'test', release.id)).status, 'in_progress')
  })

  test('answers carry the fake clock as their Date header', async (t) => {
    const server = await start(t)
    const res = await fetch(server.url + FLAG, { headers: { Authorization: server.apiKey } })
    await res.text()
    assert.equal(res.headers.get('date'), new Date(T0).toUTCString())
    server.advance(DAY)
    const later = await fetch(server.url + POLICIES, { headers: { Authorization: server.apiKey, 'LD-API-Version': 'beta' } })
    await later.text()
    assert.equal(later.headers.get('date'), new Date(T0 + DAY).toUTCString())
  })
})

describe('controls', () => {
  test('setFlag: what it fills in (name, kind, off, the last variation served, rule ids, stable variation ids) and keeps', async (t) => {
    const server = await start(t)
    const flag = server.setFlag('web', { key: 'colors', variations: [{ value: 'red' }, { value: 'green', name: 'Green' }, { value: 'blue' }] })
    assert.deepEqual([flag.name, flag.kind, flag.description, flag.tags, flag.creationDate, flag._version], ['colors', 'multivariate', '', [], 1764300000000, 1])
    assert.deepEqual(flag.variations.map((v) => Object.keys(v)), [['_id', 'value'], ['_id', 'value', 'name'], ['_id', 'value']])
    assert.equal(new Set(flag.variations.map((v) => v._id)).size, 3)
    for (const env of Object.values(flag.environments)) assert.deepEqual([env.on, env.fallthrough, env.offVariation, env.rules], [false, { variation: 2 }, 2, []])
    const again = await start(t)
    assert.deepEqual(again.setFlag('web', { key: 'colors', variations: [{ value: 'red' }, { value: 'green' }, { value: 'blue' }] }).variations.map((v) => v._id), flag.variations.map((v) => v._id))

    const given = server.setFlag('web', {
      key: 'given',
      name: 'Given',
      kind: 'multivariate',
      description: 'A flag',
      tags: ['a'],
      creationDate: 5,
      variations: [{ _id: 'v-true', value: true }, { value: false }],
      environments: { staging: { on: true, fallthrough: { variation: 0 }, offVariation: 0, rules: [{ _id: 'r1', clauses: [KIND], variation: 0 }, { variation: 1 }] } },
    })
    assert.deepEqual([given.name, given.kind, given.description, given.tags, given.creationDate, given.variations[0]._id], ['Given', 'multivariate', 'A flag', ['a'], 5, 'v-true'])
    const staging = given.environments.staging
    assert.deepEqual([staging.on, staging.fallthrough, staging.offVariation], [true, { variation: 0 }, 0])
    assert.deepEqual(staging.rules[0], { _id: 'r1', clauses: [KIND], variation: 0 })
    assert.match(staging.rules[1]._id, /^[0-9a-f-]{36}$/)
    assert.deepEqual(staging.rules[1].clauses, [], 'a rule always has clauses')
    assert.equal(server.getFlag('web', 'given').environments.staging.rules[1]._id, staging.rules[1]._id)
    assert.equal(server.getFlag('web', 'nope'), undefined)
  })

  test('setFlag: the kind is boolean only for two boolean values', async (t) => {
    const server = await start(t)
    const kind = (values) => server.setFlag('web', { key: 'k', variations: values.map((value) => ({ value })) }).kind
    assert.equal(kind([false, true]), 'boolean')
    assert.equal(kind([true, 'yes']), 'multivariate')
    assert.equal(kind(['yes', true]), 'multivariate')
    assert.equal(kind([true, false, true]), 'multivariate')
    assert.equal(kind([1, 0]), 'multivariate')
  })

  test('setFlag refuses a flag without a key or two variations, and rules that are not objects', (t) => {
    return start(t).then((server) => {
      const two = [{ value: 1 }, { value: 2 }]
      for (const bad of [null, [], 'flag', { variations: two }, { key: 5, variations: two }, { key: 'x', variations: 'ab' }, { key: 'x', variations: [{ value: 1 }] }]) {
        assert.throws(() => server.setFlag('web', bad), /^TypeError: a flag needs a key and at least two variations$/)
      }
      for (const rules of [[null], [5], [{ clauses: 'x' }], [{ clauses: [null] }], [{ clauses: [KIND, 5] }]]) {
        assert.throws(() => server.setFlag('web', { key: 'x', variations: two, environments: { test: { rules } } }), /^TypeError: a rule of a flag must be an object whose clauses \(if any\) are an array of objects$/)
      }
      assert.equal(server.getFlag('web', 'x'), undefined, 'nothing was added')
      server.setFlag('web', { key: 'x', variations: two, environments: { test: {} } })
      assert.deepEqual(server.getFlag('web', 'x').environments.test.rules, [])
    })
  })

  test('options.flags, approvalsRequired and failingHealthChecks; a bad failingHealthChecks throws', async (t) => {
    const server = await start(t, { flags: [{ projectKey: 'web', flag: { key: 'extra', variations: [{ value: 1 }, { value: 2 }] } }], approvalsRequired: [{ projectKey: 'web', environmentKey: 'staging' }], failingHealthChecks: ['flag_evaluations_with_context'] })
    assert.equal(server.getFlag('web', 'extra').kind, 'multivariate')
    const body = await startBody(server)
    await refused(server, 'POST', releasesOf('staging'), { body }, 405, 'method_not_allowed', /^Environment staging requires approvals: request a change through an approval, or use a token granted the bypassRequiredApproval action$/)
    const failed = await refused(server, 'POST', releasesOf('test'), { body }, 400, 'health_checks_failed', /^Release health checks failed: flag_evaluations_with_context\. To start the release anyway, list the failing kinds in bypassHealthChecks\.$/)
    assert.deepEqual(failed.failingChecks, [{ kind: 'flag_evaluations_with_context', message: 'The flag has not been evaluated recently for contexts of kind user.' }])
    for (const bad of [['everything'], 'flag_evaluations_any', [null]]) {
      await assert.rejects(startFakeLaunchDarkly({ failingHealthChecks: bad }), /^TypeError: options\.failingHealthChecks must be an array of flag_evaluations_any, flag_evaluations_with_context, metric_events_any, metric_events_with_context$/)
    }
    assert.throws(() => server.setHealthChecks('flag_evaluations_any'), /^TypeError: failing must be an array of flag_evaluations_any, /)
  })

  test('setApprovalsRequired: on by default, off with false; an unknown environment throws', async (t) => {
    const server = await start(t)
    const body = await startBody(server)
    server.setApprovalsRequired('web', 'test')
    await refused(server, 'POST', releasesOf('test'), { body }, 405, 'method_not_allowed', /requires approvals/)
    server.setApprovalsRequired('web', 'test', 0)
    await startRelease(server, 'test', body)
    assert.throws(() => server.setApprovalsRequired('web', 'qa'), /^Error: no environment qa in project web$/)
    await assert.rejects(startFakeLaunchDarkly({ approvalsRequired: [{ projectKey: 'web', environmentKey: 'qa' }] }), /^Error: no environment qa in project web$/)
  })

  test('setFlagOn counts a version; turning on leaves releases be; turning off ends only the releases of that flag and environment, keeping what they completed', async (t) => {
    const server = await start(t)
    server.setFlagOn('web', 'new-checkout', 'test', true)
    assert.equal(server.getFlag('web', 'new-checkout')._version, 2)
    assert.equal(server.getFlag('web', 'new-checkout').environments.test.version, 2)
    assert.throws(() => server.setFlagOn('web', 'nope', 'test', false), /^Error: no flag nope in web\/test$/)
    const body = await startBody(server, { phases: [[[10000, MINUTE]], [[20000, MINUTE]], [[30000, MINUTE]]] })
    const done = await startRelease(server, 'test', distinct(await startBody(server, { phases: [[[10000, MINUTE]]] }), 'done'))
    server.advance(MINUTE)
    const release = await startRelease(server, 'test', body)
    const others = [await startRelease(server, 'staging', body), await startRelease(server, 'test', await startBody(server, { flag: 'progressive-checkout' }), 'progressive-checkout'), await startRelease(server, 'test', body, 'new-checkout').catch(() => null)]
    assert.equal(others[2], null, 'one release at a time')
    const mobile = await ok(server, 'POST', releasesOf('test', 'new-checkout', 'mobile'), { body }, 201)
    server.advance(MINUTE + 1000) // phase 0 completed, phase 1 running
    server.setFlagOn('web', 'new-checkout', 'test', true)
    assert.equal((await getRelease(server, 'test', release.id)).status, 'in_progress', 'turning it on changes nothing')
    server.setFlagOn('web', 'new-checkout', 'test', false)
    const r = await getRelease(server, 'test', release.id)
    assert.deepEqual([r.status, r.statusReason, r.endedAt], ['reverted', 'reverted_discarded', T0 + 2 * MINUTE + 1000])
    assert.deepEqual(r.phases.map((p) => [p.status, p.statusReason]), [['completed', 'completed_automatic'], ['reverted', 'reverted_discarded'], ['reverted', 'reverted_discarded']])
    assert.equal(r.phases[1].steps[0].endedAt, T0 + 2 * MINUTE + 1000)
    assert.equal((await getRelease(server, 'test', done.id)).status, 'completed', 'an ended release stays as it ended')
    assert.equal((await getRelease(server, 'staging', others[0].id)).status, 'in_progress')
    assert.equal((await ok(server, 'GET', `${releasesOf('test', 'progressive-checkout')}/${others[1].id}`)).status, 'in_progress')
    assert.equal((await ok(server, 'GET', `${releasesOf('test', 'new-checkout', 'mobile')}/${mobile.id}`)).status, 'in_progress')
  })

  test('turning the flag off while a phase waits on a regression ends that phase', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[5000, MINUTE]], [[6000, MINUTE]]], extra: { metrics: [{ metricKey: 'checkout-errors' }] } }))
    server.advance(1000)
    server.reportRegression(release.id, 'checkout-errors')
    server.advance(1000)
    server.setFlagOn('web', 'new-checkout', 'test', false)
    const r = await getRelease(server, 'test', release.id)
    assert.deepEqual(r.phases.map((p) => [p.status, p.statusReason, p.endedAt]), [['reverted', 'reverted_discarded', T0 + 2000], ['reverted', 'reverted_discarded', null]])
    assert.equal(r.phases[0].steps[0].endedAt, T0 + 2000)
  })

  test('advance(0) is allowed; continueRelease and the regression controls say why they refuse', async (t) => {
    const server = await start(t)
    assert.equal(server.advance(0), T0)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[5000, MINUTE]], [[6000, MINUTE]]], extra: { advancementMode: 'manual', metrics: [{ metricKey: 'checkout-errors' }, { metricKey: 'checkout-latency' }] } }))
    assert.throws(() => server.continueRelease(release.id), new RegExp(`^Error: release ${release.id} is not waiting for its next phase \\(status in_progress, no reason\\)$`))
    server.reportRegression(release.id, 'checkout-errors')
    assert.throws(() => server.continueRelease(release.id), new RegExp(`^Error: release ${release.id} is not waiting for its next phase \\(status waiting, waiting_regression_detected\\)$`))
    assert.throws(() => server.dismissRegression(release.id, 'checkout-latency'), new RegExp(`^Error: metric checkout-latency has no regression to dismiss in release ${release.id}$`))
    server.dismissRegression(release.id, 'checkout-errors')
    server.advance(MINUTE)
    assert.equal(server.getEnvironmentRelease(release.id).statusReason, 'waiting_phase_ended')
    assert.throws(() => server.reportRegression(release.id, 'checkout-errors'), new RegExp(`^Error: release ${release.id} has no running phase \\(status waiting\\)$`))
    assert.throws(() => server.dismissRegression(release.id, 'checkout-errors'), /no regression to dismiss/)
    server.continueRelease(release.id)
    await stopRelease(server, 'test', release.id, 'roll_forward_all_phases')
    assert.throws(() => server.continueRelease(release.id), /\(status completed, completed_manual\)$/)
  })

  test('regressions on two metrics: the release waits until both are dismissed, its step resuming for the time it had left', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[5000, MINUTE], [6000, MINUTE]]], extra: { metrics: [{ metricKey: 'checkout-errors' }, { metricKey: 'checkout-latency' }] } }))
    server.advance(10000)
    server.reportRegression(release.id, 'checkout-errors')
    server.advance(10000)
    let r = server.reportRegression(release.id, 'checkout-latency')
    assert.deepEqual([r.status, r.statusReason], ['waiting', 'waiting_regression_detected'])
    // The regressed rule still serves its rollout while it waits.
    assert.deepEqual(server.getFlag('web', 'new-checkout').environments.test.rules[0].rollout.variations[0], { variation: 0, weight: 5000 })
    server.advance(10000)
    r = server.dismissRegression(release.id, 'checkout-errors')
    assert.deepEqual([r.status, r.phases[0].status, r.phases[0].metricStatuses], ['waiting', 'waiting', { 'checkout-errors': 'regression_dismissed', 'checkout-latency': 'regressed' }])
    server.advance(10000)
    r = server.dismissRegression(release.id, 'checkout-latency')
    assert.deepEqual([r.status, r.statusReason, r.phases[0].status, r.phases[0].statusReason], ['in_progress', null, 'in_progress', null])
    // Paused from T0+10 s to T0+40 s: the first step ends 30 s late.
    server.advance(MINUTE - 10000 - 1)
    assert.equal(server.getEnvironmentRelease(release.id).phases[0].currentStepIndex, 0)
    server.advance(1)
    assert.equal(server.getEnvironmentRelease(release.id).phases[0].steps[0].endedAt, T0 + MINUTE + 30000)
  })

  test('stopping a release that waits on a regression ends its phase as the resolution says', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[5000, MINUTE]]], extra: { metrics: [{ metricKey: 'checkout-errors' }] } }))
    server.reportRegression(release.id, 'checkout-errors')
    server.advance(1000)
    const r = await stopRelease(server, 'test', release.id, 'roll_back_current_phase_and_remove_pending_phases')
    assert.deepEqual([r.status, r.phases[0].status, r.phases[0].statusReason, r.phases[0].endedAt, r.phases[0].steps[0].endedAt], ['reverted', 'reverted', 'reverted_manual', T0 + 1000, T0 + 1000])
  })

  test('failStartAnswer with a status: 5xx is internal_server_error, others error; the message says the release was started', async (t) => {
    const server = await start(t)
    const body = await startBody(server, { phases: [[[1000, MINUTE]]] })
    for (const [status, code] of [[500, 'internal_server_error'], [499, 'error'], [503, 'internal_server_error']]) {
      server.failStartAnswer({ status })
      await refused(server, 'POST', releasesOf('test'), { body: distinct(body, status) }, status, code, new RegExp(`^${status} \\(the release was started\\)$`))
      const [latest] = (await ok(server, 'GET', releasesOf('test'))).items
      await stopRelease(server, 'test', latest.id, 'roll_back_all_phases_and_remove_pending_phases')
    }
  })
})

describe('starts: every refusal, its exact message', () => {
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

  test('the body, the variations, the unit, the modes, the comment, bypassHealthChecks and metrics', async (t) => {
    const server = await start(t)
    const base = await startBody(server, { phases: [[[10000, MINUTE]]] })
    const layout = await variations(server, 'checkout-layout')
    const checks = 'flag_evaluations_any, flag_evaluations_with_context, metric_events_any, metric_events_with_context'
    const cases = [
      [null, 'the body must be a JSON object'],
      [5, 'the body must be a JSON object'],
      ['"text"', 'the body must be a JSON object'],
      [{ ...base, originalVariationId: [base.originalVariationId] }, 'originalVariationId is required and must be a UUID'],
      [{ ...base, targetVariationId: `x${base.targetVariationId}` }, 'targetVariationId is required and must be a UUID'],
      [{ ...base, targetVariationId: `${base.targetVariationId}x` }, 'targetVariationId is required and must be a UUID'],
      [{ ...base, originalVariationId: layout.wide }, `originalVariationId ${layout.wide} is not a variation of flag new-checkout`],
      [{ ...base, targetVariationId: layout.wide }, `targetVariationId ${layout.wide} is not a variation of flag new-checkout`],
      [{ ...base, randomizationUnit: '' }, 'randomizationUnit is required unless releasePlanKey is set'],
      [{ ...base, randomizationUnit: 5 }, 'randomizationUnit is required unless releasePlanKey is set'],
      [{ ...base, cleanupBehavior: 'tidy' }, 'cleanupBehavior must be one of remove_rules_and_update_default_rule, leave_rules_in_place'],
      [{ ...base, advancementMode: 'sometimes' }, 'advancementMode must be one of manual, automatic'],
      [{ ...base, comment: 5 }, 'comment must be a string'],
      [{ ...base, bypassHealthChecks: 'flag_evaluations_any' }, `bypassHealthChecks must be an array of ${checks}`],
      [{ ...base, bypassHealthChecks: ['flag_evaluations_any', 'nope'] }, `bypassHealthChecks must be an array of ${checks}`],
      [{ ...base, metrics: { metricKey: 'checkout-errors' } }, 'metrics must be an array'],
      [{ ...base, metrics: [5] }, 'metrics[0].metricKey is required'],
      [{ ...base, metrics: [{ metricKey: 'checkout-errors' }, {}] }, 'metrics[1].metricKey is required'],
      [{ ...base, metrics: [{ metricKey: '' }] }, 'metrics[0].metricKey is required'],
      [{ ...base, metrics: [{ metricKey: 5 }] }, 'metrics[0].metricKey is required'],
      [{ ...base, metrics: [{ metricKey: 'checkout-errors', autoRollback: 'yes' }] }, 'metrics[0].autoRollback must be a boolean'],
      [{ ...base, metrics: [{ metricKey: 'checkout-health' }] }, 'metrics[0]: checkout-health is a metric group; metric groups are not accepted, list its metrics individually'],
      [{ ...base, metrics: [{ metricKey: 'nope' }] }, 'metrics[0]: no metric "nope" in this project'],
      [{ ...base, metrics: [{ metricKey: 'checkout-errors' }, { metricKey: 'checkout-errors' }] }, 'metrics[1]: metric checkout-errors is listed twice'],
    ]
    for (const [body, message] of cases) await refused(server, 'POST', releasesOf('test'), { body }, 400, 'invalid_request', new RegExp(`^${escape(message)}$`))
    assert.equal((await ok(server, 'GET', releasesOf('test'))).totalCount, 0)
  })

  test('phases, steps, rules and clauses', async (t) => {
    const server = await start(t)
    const base = await startBody(server, { phases: [[[10000, MINUTE]]] })
    const steps = base.phases[0].steps
    const phase = (over) => ({ ...base.phases[0], ...over })
    const ops = 'in, endsWith, startsWith, matches, contains, lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual, before, after, segmentMatch, semVerEqual, semVerLessThan, semVerGreaterThan'
    const kindRule = (unit) => `the rule must include the clause {"contextKind":"${unit}","attribute":"kind","op":"in","values":["${unit}"]}, not negated and with no other values, so the release only reaches contexts of the randomizationUnit kind "${unit}"`
    server.setFlag('web', {
      key: 'ruled',
      variations: [{ value: true }, { value: false }],
      environments: {
        test: {
          on: true,
          rules: [
            { _id: 'off-rule', disabled: true, clauses: [KIND] },
            { _id: 'no-clauses' },
            { _id: 'no-values', clauses: [{ contextKind: 'user', attribute: 'kind', op: 'in' }] },
            { _id: 'kind-device', clauses: [{ contextKind: 'device', attribute: 'kind', op: 'in', values: ['user'] }] },
            { _id: 'attr-key', clauses: [{ contextKind: 'user', attribute: 'key', op: 'in', values: ['user'] }] },
            { _id: 'op-starts', clauses: [{ contextKind: 'user', attribute: 'kind', op: 'startsWith', values: ['user'] }] },
            { _id: 'value-device', clauses: [{ contextKind: 'user', attribute: 'kind', op: 'in', values: ['device'] }] },
            { _id: 'blank', description: '', clauses: [KIND, clause('blank', 1)] },
          ],
        },
      },
    })
    const ruled = await variations(server, 'ruled')
    const onRuled = (over) => ({ originalVariationId: ruled.false, targetVariationId: ruled.true, randomizationUnit: 'user', ...over })
    const existing = (ruleId) => onRuled({ phases: [{ ruleId, steps }] })
    const cases = [
      ['test', { ...base, phases: [5] }, 'phases[0] must be an object'],
      ['test', { ...base, phases: [phase({ steps: [5] })] }, 'phases[0].steps[0] must be an object'],
      ['test', { ...base, phases: [phase({ steps: 'x' })] }, 'phases[0].steps must have at least one step'],
      ['test', { ...base, phases: [phase({ steps: [{ allocation: 1.5, durationMillis: 1 }] })] }, 'phases[0].steps[0].allocation must be an integer from 1 to 100000 (thousandths of a percent)'],
      ['test', { ...base, phases: [phase({ steps: [{ allocation: 1, durationMillis: 1.5 }] })] }, 'phases[0].steps[0].durationMillis must be a positive integer'],
      ['test', { ...base, metrics: [{ metricKey: 'checkout-errors' }], phases: [phase({ steps: [{ allocation: 50001, durationMillis: 1 }] })] }, 'phases[0].steps[0].allocation: guarded releases cannot exceed 50000, preserving a control group'],
      ['test', { ...base, phases: [phase({ clauses: [] })] }, 'phases[0].clauses must have at least one clause'],
      ['test', { ...base, phases: [phase({ clauses: 'x' })] }, 'phases[0].clauses must have at least one clause'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, 5] })] }, 'phases[0].clauses[1] must be an object'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, null] })] }, 'phases[0].clauses[1] must be an object'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { op: 'in', values: [] }] })] }, 'phases[0].clauses[1].attribute is required'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: '', op: 'in', values: [] }] })] }, 'phases[0].clauses[1].attribute is required'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: 5, op: 'in', values: [] }] })] }, 'phases[0].clauses[1].attribute is required'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'like', values: [] }] })] }, `phases[0].clauses[1].op must be one of ${ops}`],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'in', values: 'a' }] })] }, 'phases[0].clauses[1].values must be an array'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'in', values: ['a', null] }] })] }, 'phases[0].clauses[1].values: JSON primitives only (strings, numbers, booleans); objects, arrays, and null are rejected'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'in', values: [1, [2]] }] })] }, 'phases[0].clauses[1].values: JSON primitives only (strings, numbers, booleans); objects, arrays, and null are rejected'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'in', values: [], negate: 'yes' }] })] }, 'phases[0].clauses[1].negate must be a boolean'],
      ['test', { ...base, phases: [phase({ clauses: [KIND, { attribute: 'x', op: 'in', values: [], contextKind: 5 }] })] }, 'phases[0].clauses[1].contextKind must be a string'],
      ['test', { ...base, phases: [phase({ clauses: [{ ...KIND, contextKind: 'device' }] })] }, `phases[0]: ${kindRule('user')}`],
      ['test', { ...base, phases: [phase({ clauses: [{ ...KIND, attribute: 'key' }] })] }, `phases[0]: ${kindRule('user')}`],
      ['test', { ...base, phases: [phase({ clauses: [{ ...KIND, op: 'startsWith' }] })] }, `phases[0]: ${kindRule('user')}`],
      ['test', { ...base, phases: [phase({ clauses: [{ ...KIND, values: ['device'] }] })] }, `phases[0]: ${kindRule('user')}`],
      ['test', { ...base, phases: [phase({ description: 5 })] }, 'phases[0].description must be a string'],
      ['test', { ...base, advancementMode: 'automatic', phases: [phase({ description: 'Same' }), phase({ clauses: [KIND, clause('other', 1)], description: 'Same' })] }, 'duplicate rule description not allowed'],
      ['test', existing('off-rule'), 'phases[0].ruleId off-rule: the rule must be enabled'],
      ['test', existing('no-clauses'), `phases[0]: ${kindRule('user')}`],
      ['test', existing('no-values'), `phases[0]: ${kindRule('user')}`],
      ['test', existing('kind-device'), `phases[0]: ${kindRule('user')}`],
      ['test', existing('attr-key'), `phases[0]: ${kindRule('user')}`],
      ['test', existing('op-starts'), `phases[0]: ${kindRule('user')}`],
      ['test', existing('value-device'), `phases[0]: ${kindRule('user')}`],
      ['test', existing('nope'), 'phases[0].ruleId nope is not a rule of this flag in test'],
      ['test', onRuled({ phases: [{ clauses: [KIND, clause('blank', 1)], description: '', steps }] }), 'duplicate rule description not allowed'],
    ]
    for (const [env, body, message] of cases) {
      const flag = body.originalVariationId === ruled.false ? 'ruled' : 'new-checkout'
      await refused(server, 'POST', releasesOf(env, flag), { body }, 400, 'invalid_request', new RegExp(`^${escape(message)}$`))
    }
    assert.equal((await ok(server, 'GET', releasesOf('test'))).totalCount, 0)
    assert.equal((await ok(server, 'GET', releasesOf('test', 'ruled'))).totalCount, 0)
  })

  test('what may be null or left out: a start with every optional field null is a plain start', async (t) => {
    const server = await start(t)
    const base = await startBody(server, { phases: [[[10000, MINUTE]]] })
    const body = {
      ...base,
      releasePlanKey: null,
      cleanupBehavior: null,
      advancementMode: null,
      comment: null,
      beforeRuleId: null,
      metrics: [{ metricKey: 'checkout-errors', autoRollback: null }],
      phases: [{ ruleId: null, clauses: [KIND, { attribute: 'country', op: 'in', values: ['nz'], negate: null }, { attribute: 'plan', op: 'in', values: ['pro'], contextKind: null }], description: null, steps: base.phases[0].steps }],
    }
    const release = await startRelease(server, 'test', body)
    assert.deepEqual([release.cleanupBehavior, release.advancementMode, release.kind, release.metrics[0].autoRollback, release.phases[0].description], ['leave_rules_in_place', 'automatic', 'guarded', false, null])
    // The rule it made: no description, negate false, the clauses as given.
    const [rule] = server.getFlag('web', 'new-checkout').environments.test.rules
    assert.deepEqual(Object.keys(rule).sort(), ['_id', 'clauses', 'rollout', 'trackEvents'])
    assert.equal(rule.trackEvents, false)
    assert.deepEqual(rule.clauses.map((c) => [c.attribute, c.negate]), [['kind', false], ['country', false], ['plan', false]])
    assert.equal(rule.clauses[2].contextKind, null)
    await stopRelease(server, 'test', release.id, 'roll_back_all_phases_and_remove_pending_phases')
    // An existing rule given with clauses null.
    const beta = server.getFlag('web', 'new-checkout').environments.production.rules[0]._id
    const inPlace = await startRelease(server, 'production', { ...base, phases: [{ ruleId: beta, clauses: null, steps: base.phases[0].steps }] })
    assert.equal(inPlace.phases[0].ruleId, beta)
    // The release's links.
    assert.deepEqual(inPlace._links, { self: { href: `${releasesOf('production')}/${inPlace.id}`, type: 'application/json' }, parent: { href: FLAG, type: 'application/json' } })
  })

  test('a new rule duplicates an existing one only with the same clauses, context kinds included', async (t) => {
    const server = await start(t)
    const base = await startBody(server, { phases: [[[10000, MINUTE]]] })
    const beta = server.getFlag('web', 'new-checkout').environments.production.rules[0]
    const [kind, email] = beta.clauses
    await refused(server, 'POST', releasesOf('production'), { body: { ...base, phases: [{ clauses: [kind, { ...email, negate: undefined }], steps: base.phases[0].steps }] } }, 400, 'invalid_request', /^new rule is exact duplicate of an existing rule at index 0$/)
    const release = await startRelease(server, 'production', { ...base, phases: [{ clauses: [kind, { ...email, contextKind: 'organization' }], steps: base.phases[0].steps }] })
    assert.equal(release.status, 'in_progress')
  })
})

describe('releases: plans, rule placement, cleanup, health checks, stop bodies', () => {
  const plan = { key: 'standard', randomizationUnit: 'user', phases: [{ clauses: [KIND], steps: [{ allocation: 10000, durationMillis: MINUTE }] }] }

  test('releasePlanKey: each refusal, null fields left to the plan, metric groups expanded', async (t) => {
    const plans = [
      { projectKey: 'web', environmentKey: 'test', plan },
      { projectKey: 'web', environmentKey: 'test', plan: { ...plan, key: 'grouped', phases: [{ ...plan.phases[0], clauses: [KIND, clause('plan', 3)] }], metrics: [{ metricGroupKey: 'health', autoRollback: true }, { metricGroupKey: 'unknown' }, { metricKey: 'checkout-latency' }], metricGroups: { health: ['checkout-errors'] } } },
      { projectKey: 'web', environmentKey: 'test', plan: { ...plan, key: 'no-groups', phases: [{ ...plan.phases[0], clauses: [KIND, clause('plan', 2)] }], metrics: [{ metricGroupKey: 'health' }] } },
      { projectKey: 'web', environmentKey: 'test', plan: { ...plan, key: 'no-unit', randomizationUnit: undefined } },
      { projectKey: 'web', environmentKey: 'test', plan: { ...plan, key: 'no-phases', phases: undefined } },
      { projectKey: 'web', environmentKey: 'test', plan: { ...plan, key: 'empty', phases: [] } },
      { projectKey: 'web', environmentKey: 'test', plan: { ...plan, key: 'object-phases', phases: { 0: plan.phases[0] } } },
    ]
    const server = await start(t, { releasePlans: plans })
    const { originalVariationId, targetVariationId } = await startBody(server)
    const body = (over) => ({ originalVariationId, targetVariationId, ...over })
    const cases = [
      [body({ releasePlanKey: '' }), 'releasePlanKey must be a non-empty string'],
      [body({ releasePlanKey: 5 }), 'releasePlanKey must be a non-empty string'],
      [body({ releasePlanKey: 'standard', metrics: [] }), 'the release plan supplies metrics: omit it when releasePlanKey is set'],
      [body({ releasePlanKey: 'standard', advancementMode: 'manual', cleanupBehavior: 'leave_rules_in_place' }), 'the release plan supplies advancementMode, cleanupBehavior: omit them when releasePlanKey is set'],
      [body({ releasePlanKey: 'no-unit' }), 'release plan "no-unit" is incomplete: it needs a randomizationUnit and phases'],
      [body({ releasePlanKey: 'no-phases' }), 'release plan "no-phases" is incomplete: it needs a randomizationUnit and phases'],
      [body({ releasePlanKey: 'empty' }), 'release plan "empty" is incomplete: it needs a randomizationUnit and phases'],
      [body({ releasePlanKey: 'object-phases' }), 'release plan "object-phases" is incomplete: it needs a randomizationUnit and phases'],
    ]
    for (const [b, message] of cases) await refused(server, 'POST', releasesOf('test'), { body: b }, 400, 'invalid_request', new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
    // Without plans configured, an empty key is still a 400 (the key is checked first).
    const plain = await start(t)
    await refused(plain, 'POST', releasesOf('test'), { body: body({ releasePlanKey: '' }) }, 400, 'invalid_request', /^releasePlanKey must be a non-empty string$/)

    const grouped = await startRelease(server, 'test', body({ releasePlanKey: 'grouped', randomizationUnit: null, phases: null, metrics: null, advancementMode: null, cleanupBehavior: null }))
    assert.deepEqual(grouped.metrics.map((m) => [m.metricKey, m.autoRollback]), [['checkout-errors', true], ['checkout-latency', false]])
    assert.deepEqual([grouped.kind, grouped.advancementMode, grouped.cleanupBehavior], ['guarded', 'automatic', 'leave_rules_in_place'])
    await stopRelease(server, 'test', grouped.id, 'roll_back_all_phases_and_remove_pending_phases')
    const ungrouped = await startRelease(server, 'test', body({ releasePlanKey: 'no-groups' }))
    assert.deepEqual([ungrouped.kind, ungrouped.metrics], ['progressive', []])
    await stopRelease(server, 'test', ungrouped.id, 'roll_back_all_phases_and_remove_pending_phases')
    // A plan without metrics: a progressive release.
    const standard = await startRelease(server, 'test', body({ releasePlanKey: 'standard' }))
    assert.deepEqual([standard.kind, standard.metrics, standard.phases.length], ['progressive', [], 1])
  })

  test('new rules go last, or before beforeRuleId; each new rule has the phase description only when given', async (t) => {
    const server = await start(t)
    server.setFlag('web', { key: 'two-rules', variations: [{ value: true }, { value: false }], environments: { test: { on: true, rules: [{ _id: 'first', clauses: [KIND, clause('a', 1)] }, { _id: 'second', clauses: [KIND, clause('b', 1)] }] } } })
    const v = await variations(server, 'two-rules')
    const steps = [{ allocation: 1000, durationMillis: MINUTE }]
    const body = (over) => ({ originalVariationId: v.false, targetVariationId: v.true, randomizationUnit: 'user', phases: [{ clauses: [KIND, clause('c', 1)], steps }], ...over })
    const ids = () => server.getFlag('web', 'two-rules').environments.test.rules.map((r) => r._id)
    const last = await startRelease(server, 'test', body({}), 'two-rules')
    assert.deepEqual(ids(), ['first', 'second', last.phases[0].ruleId])
    const rule = server.getFlag('web', 'two-rules').environments.test.rules[2]
    assert.ok(!('description' in rule))
    await ok(server, 'PUT', `${releasesOf('test', 'two-rules')}/${last.id}/stop`, { body: { resolution: 'roll_back_all_phases_and_remove_pending_phases' } })
    const before = await startRelease(server, 'test', body({ beforeRuleId: 'second', phases: [{ clauses: [KIND, clause('d', 1)], description: 'D', steps }] }), 'two-rules')
    assert.deepEqual(ids(), ['first', before.phases[0].ruleId, 'second', last.phases[0].ruleId])
    assert.equal(server.getFlag('web', 'two-rules').environments.test.rules[1].description, 'D')
  })

  test('a release to the second variation: the rule rolls out, then serves, that variation; remove_rules cleanup makes it the default and keeps the rules it did not make', async (t) => {
    const server = await start(t)
    const v = await variations(server)
    const beta = server.getFlag('web', 'new-checkout').environments.production.rules[0]._id
    const body = { originalVariationId: v.true, targetVariationId: v.false, randomizationUnit: 'user', cleanupBehavior: 'remove_rules_and_update_default_rule', advancementMode: 'automatic', phases: [{ clauses: [KIND, clause('x', 1)], steps: [{ allocation: 30000, durationMillis: MINUTE }] }, { clauses: [KIND, clause('x', 2)], steps: [{ allocation: 60000, durationMillis: MINUTE }] }] }
    const release = await startRelease(server, 'production', body)
    let rules = server.getFlag('web', 'new-checkout').environments.production.rules
    assert.deepEqual(rules.map((r) => r._id), [beta, ...release.phases.map((p) => p.ruleId)])
    assert.deepEqual(rules[1].rollout, { contextKind: 'user', variations: [{ variation: 1, weight: 30000 }, { variation: 0, weight: 70000 }] })
    assert.ok(!('disabled' in rules[1]), 'the running rule is enabled')
    assert.deepEqual([rules[2].variation, rules[2].disabled], [0, true])
    server.advance(2 * MINUTE)
    const env = server.getFlag('web', 'new-checkout').environments.production
    assert.deepEqual(env.rules.map((r) => r._id), [beta], 'its own rules are gone, the Beta testers rule stays')
    assert.deepEqual(env.fallthrough, { variation: 1 })

    // An existing rule released in place stays after the cleanup, serving the target.
    const inPlace = await startRelease(server, 'production', { ...body, phases: [{ ruleId: beta, steps: [{ allocation: 30000, durationMillis: MINUTE }] }] })
    rules = server.getFlag('web', 'new-checkout').environments.production.rules
    assert.deepEqual(rules[0].rollout.variations, [{ variation: 1, weight: 30000 }, { variation: 0, weight: 70000 }])
    server.advance(MINUTE)
    assert.equal(server.getEnvironmentRelease(inPlace.id).status, 'completed')
    rules = server.getFlag('web', 'new-checkout').environments.production.rules
    assert.deepEqual(rules.map((r) => [r._id, r.variation]), [[beta, 1]])
  })

  test('remove_rules_and_update_default_rule applies only to a completed release: a rolled-back one leaves its rules serving the original, and the default', async (t) => {
    const server = await start(t)
    const v = await variations(server)
    const release = await startRelease(server, 'test', { originalVariationId: v.true, targetVariationId: v.false, randomizationUnit: 'user', cleanupBehavior: 'remove_rules_and_update_default_rule', phases: [{ clauses: [KIND], steps: [{ allocation: 30000, durationMillis: MINUTE }] }] })
    await stopRelease(server, 'test', release.id, 'roll_back_all_phases_and_remove_pending_phases')
    const env = server.getFlag('web', 'new-checkout').environments.test
    assert.deepEqual(env.rules.map((r) => [r._id, r.variation]), [[release.phases[0].ruleId, 0]])
    assert.deepEqual(env.fallthrough, { variation: 1 })
  })

  test('a rule released in place is kept when its release is rolled back; the rules of discarded phases go', async (t) => {
    const server = await start(t)
    const v = await variations(server)
    const beta = server.getFlag('web', 'new-checkout').environments.production.rules[0]._id
    const release = await startRelease(server, 'production', { originalVariationId: v.false, targetVariationId: v.true, randomizationUnit: 'user', phases: [{ ruleId: beta, steps: [{ allocation: 30000, durationMillis: MINUTE }] }] })
    await stopRelease(server, 'production', release.id, 'roll_back_all_phases_and_remove_pending_phases')
    assert.deepEqual(server.getFlag('web', 'new-checkout').environments.production.rules.map((r) => [r._id, r.variation]), [[beta, 1]])
  })

  test('failing health checks set for a project, a flag or an environment apply there only', async (t) => {
    const server = await start(t)
    const body = (tag) => distinct({ originalVariationId: null, targetVariationId: null, randomizationUnit: 'user', phases: [{ steps: [{ allocation: 1000, durationMillis: MINUTE }] }] }, tag)
    const withIds = async (flag, tag) => ({ ...body(tag), originalVariationId: (await variations(server, flag)).false ?? (await variations(server, flag)).classic, targetVariationId: (await variations(server, flag)).true ?? (await variations(server, flag)).wide })
    server.setHealthChecks(['flag_evaluations_any'], { projectKey: 'mobile' })
    server.setHealthChecks(['flag_evaluations_with_context'], { flagKey: 'checkout-layout' })
    server.setHealthChecks(['metric_events_any'], { environmentKey: 'staging' })
    await refused(server, 'POST', releasesOf('test', 'new-checkout', 'mobile'), { body: await withIds('new-checkout', 'm') }, 400, 'health_checks_failed', /^Release health checks failed: flag_evaluations_any\./)
    await refused(server, 'POST', releasesOf('test', 'checkout-layout'), { body: await withIds('checkout-layout', 'l') }, 400, 'health_checks_failed', /^Release health checks failed: flag_evaluations_with_context\./)
    await refused(server, 'POST', releasesOf('test', 'checkout-layout', 'mobile'), { body: await withIds('checkout-layout', 'ml') }, 400, 'health_checks_failed', /^Release health checks failed: flag_evaluations_any, flag_evaluations_with_context\. To start the release anyway, list the failing kinds in bypassHealthChecks\.$/)
    const guarded = { ...(await withIds('new-checkout', 's')), metrics: [{ metricKey: 'checkout-errors' }] }
    const failed = await refused(server, 'POST', releasesOf('staging'), { body: guarded }, 400, 'health_checks_failed', /^Release health checks failed: metric_events_any\./)
    assert.deepEqual(failed.failingChecks, [{ kind: 'metric_events_any', metricKey: 'checkout-errors', message: 'Metric checkout-errors has not received events recently.' }])
    await startRelease(server, 'test', guarded)
    await startRelease(server, 'staging', await withIds('progressive-checkout', 'p'), 'progressive-checkout')
  })

  test('the stop body: not JSON, not an object, the resolutions listed, a null comment', async (t) => {
    const server = await start(t)
    const release = await startRelease(server, 'test', await startBody(server))
    const stop = `${releasesOf('test')}/${release.id}/stop`
    await refused(server, 'PUT', stop, { body: '{"resolution":' }, 400, 'invalid_request', /^the body is not valid JSON$/)
    await refused(server, 'PUT', stop, { body: ['roll_forward_all_phases'] }, 400, 'invalid_request', /^the body must be a JSON object$/)
    await refused(server, 'PUT', stop, { body: 'null' }, 400, 'invalid_request', /^the body must be a JSON object$/)
    await refused(server, 'PUT', stop, { body: { resolution: 'undo' } }, 400, 'invalid_request', /^resolution must be one of roll_forward_all_phases, roll_forward_current_phase_and_remove_pending_phases, roll_back_all_phases_and_remove_pending_phases, roll_back_current_phase_and_remove_pending_phases$/)
    const stopped = await ok(server, 'PUT', stop, { body: { resolution: 'roll_forward_all_phases', comment: null } })
    const commented = await startRelease(server, 'test', distinct(await startBody(server, { extra: { comment: 'Rolling out the new checkout' } }), 'commented'))
    await ok(server, 'PUT', `${releasesOf('test')}/${commented.id}/stop`, { body: { resolution: 'roll_back_all_phases_and_remove_pending_phases', comment: 'errors up' } })
    assert.equal(stopped.status, 'completed')
    // Each cleanup behavior and advancement mode may be named.
    for (const [i, [cleanupBehavior, advancementMode]] of [['leave_rules_in_place', 'manual'], ['remove_rules_and_update_default_rule', 'automatic']].entries()) {
      const release = await startRelease(server, 'test', distinct(await startBody(server, { extra: { cleanupBehavior, advancementMode } }), `named-${i}`))
      assert.deepEqual([release.cleanupBehavior, release.advancementMode], [cleanupBehavior, advancementMode])
      await stopRelease(server, 'test', release.id, 'roll_back_all_phases_and_remove_pending_phases')
    }
  })

  test('the start body: not JSON is 400 with the reason', async (t) => {
    const server = await start(t)
    await refused(server, 'POST', releasesOf('test'), { body: '{' }, 400, 'invalid_request', /^the body is not valid JSON$/)
  })
})

describe('listing: pages, filters and snapshots at their edges', () => {
  const started = async (server, env, tag, flag = 'new-checkout') => {
    const release = await startRelease(server, env, distinct(await startBody(server, { phases: [[[1000, MINUTE]]], flag }), tag), flag)
    await ok(server, 'PUT', `${releasesOf(env, flag)}/${release.id}/stop`, { body: { resolution: 'roll_back_all_phases_and_remove_pending_phases' } })
    return release.id
  }
  const offsetOf = (link) => Number(/offset=(\d+)/.exec(link.href)[1])

  test('only the releases of that project, flag and environment; limit 1; the links at the end and past it', async (t) => {
    const server = await start(t)
    const ids = []
    for (let i = 0; i < 3; i++) ids.unshift(await started(server, 'test', `t${i}`))
    await started(server, 'staging', 's')
    await started(server, 'test', 'p', 'progressive-checkout')
    await ok(server, 'POST', releasesOf('test', 'new-checkout', 'mobile'), { body: distinct(await startBody(server, { phases: [[[1000, MINUTE]]] }), 'm') }, 201)
    const all = await ok(server, 'GET', releasesOf('test'))
    assert.deepEqual(all.items.map((r) => r.id), ids)
    const one = await ok(server, 'GET', `${releasesOf('test')}?limit=1`)
    assert.deepEqual([one.items.map((r) => r.id), offsetOf(one._links.next), offsetOf(one._links.last)], [[ids[0]], 1, 2])
    const end = await ok(server, 'GET', `${releasesOf('test')}?limit=2&offset=1`)
    assert.ok(!('next' in end._links), 'the page reaches the end')
    assert.deepEqual([offsetOf(end._links.prev), offsetOf(end._links.last)], [0, 2])
    const past = await ok(server, 'GET', `${releasesOf('test')}?limit=2&offset=50`)
    assert.deepEqual([past.items, offsetOf(past._links.prev), offsetOf(past._links.last)], [[], 1, 2])
    const empty = await ok(server, 'GET', releasesOf('staging', 'checkout-layout'))
    assert.deepEqual([offsetOf(empty._links.first), offsetOf(empty._links.last)], [0, 0])
  })

  test('filter: blank is no filter; spaces around the words are allowed; anything else around them is not', async (t) => {
    const server = await start(t)
    await started(server, 'test', 'a')
    for (const blank of ['', '   ']) assert.equal((await ok(server, 'GET', `${releasesOf('test')}?filter=${encodeURIComponent(blank)}`)).totalCount, 1)
    for (const good of ['  kind   equals   progressive  ', 'kind equals "progressive"']) assert.equal((await ok(server, 'GET', `${releasesOf('test')}?filter=${encodeURIComponent(good)}`)).totalCount, 1, good)
    for (const bad of ['xkind equals progressive', 'kind equals progressive x', 'kindequals progressive', 'kind equalsprogressive', 'kind equals progressivex']) {
      await refused(server, 'GET', `${releasesOf('test')}?filter=${encodeURIComponent(bad)}`, {}, 400, 'invalid_request', new RegExp(`^unsupported filter ${JSON.stringify(bad)}: the only filter is kind equals progressive or kind equals guarded$`))
    }
  })

  test('_snapshot: nanoseconds of the fake clock; one from the future or not all digits is ignored; a release started in the same millisecond after it is left out', async (t) => {
    const server = await start(t)
    const snapshotOf = (page) => /_snapshot=(\d+)/.exec(page._links.self.href)[1]
    const empty = await ok(server, 'GET', releasesOf('test'))
    assert.equal(snapshotOf(empty), `${T0}000000`)
    const first = await started(server, 'test', 'a')
    const page = await ok(server, 'GET', releasesOf('test'))
    const pinned = snapshotOf(page)
    assert.equal(pinned, `${T0}000001`, 'the release created in this millisecond is 1 ns past it')
    const second = await started(server, 'test', 'b') // the clock stands still: the same millisecond
    assert.deepEqual((await ok(server, 'GET', `${releasesOf('test')}?_snapshot=${pinned}`)).items.map((r) => r.id), [first])
    const latest = await ok(server, 'GET', releasesOf('test'))
    assert.deepEqual(latest.items.map((r) => r.id), [second, first])
    assert.equal(snapshotOf(latest), `${T0}000002`)
    for (const ignored of ['1x', 'x1', `${T0}000003`, '1'.repeat(26)]) {
      const res = await ok(server, 'GET', `${releasesOf('test')}?_snapshot=${ignored}`)
      assert.deepEqual([res.totalCount, snapshotOf(res)], [2, `${T0}000002`], ignored)
    }
    assert.equal((await ok(server, 'GET', `${releasesOf('test')}?_snapshot=0`)).totalCount, 0)
    server.advance(1)
    assert.equal(snapshotOf(await ok(server, 'GET', releasesOf('test'))), `${T0 + 1}000000`)
  })
})

describe('the clock at speed', () => {
  test('fake time runs at speed times real time, no faster; the flag shows releases where the clock has taken them', async (t) => {
    const realStart = Date.now()
    const server = await start(t, { clock: { start: T0, speed: 100 } })
    const release = await startRelease(server, 'test', await startBody(server, { phases: [[[10000, 1000]]] }))
    await sleep(30) // 3 s of fake time
    // The flag, read first, already shows the release completed.
    assert.equal(server.getFlag('web', 'new-checkout').environments.test.rules[0].variation, 0)
    const elapsed = Date.now() - realStart
    assert.ok(server.now() - T0 <= elapsed * 100, `${server.now() - T0} ms of fake time in ${elapsed} ms`)
    assert.ok(server.now() - T0 >= 3000)
    assert.equal(server.getEnvironmentRelease(release.id).status, 'completed')
    for (const speed of [Infinity, NaN, '5', -0.5]) await assert.rejects(startFakeLaunchDarkly({ clock: { speed } }), /^TypeError: clock\.speed must be a finite number >= 0$/)
  })
})

describe('release policies: every refusal, its exact message', () => {
  const policy = (over = {}) => ({ key: 'p', name: 'P', releaseMethod: 'progressive-release', scope: { environmentKeys: ['staging'] }, ...over })

  test('the body, key, name, method and scope', async (t) => {
    const server = await start(t)
    const cases = [
      [[policy()], 'the body must be a JSON object'],
      [null, 'the body must be a JSON object'],
      [policy({ key: 5 }), "key is required: letters, numbers, '.', '_' and '-'"],
      [policy({ key: undefined }), "key is required: letters, numbers, '.', '_' and '-'"],
      [policy({ name: undefined }), 'name is required'],
      [policy({ name: 5 }), 'name is required'],
      [policy({ name: 'x'.repeat(257) }), 'name must be at most 256 characters'],
      [policy({ scope: 'production' }), 'scope must be an object'],
      [policy({ scope: { environmentKeys: 'production' } }), 'scope.environmentKeys must be an array of strings'],
      [policy({ scope: { environmentKeys: ['production', 5] } }), 'scope.environmentKeys must be an array of strings'],
      [policy({ scope: { environmentKeys: ['production', 'qa'] } }), 'scope.environmentKeys: no environment "qa" in this project'],
      [policy({ scope: { flagTagKeys: 'checkout' } }), 'scope.flagTagKeys must be an array of at most 1000 keys'],
      [policy({ scope: { flagTagKeys: ['ok', 5] } }), "scope.flagTagKeys: each key must only contain letters, numbers, '-', '_', or '.', and be at most 64 characters"],
      [policy({ releaseMethod: 'guarded-release', progressiveReleaseConfig: { stages: [] } }), 'progressiveReleaseConfig does not apply to a guarded-release policy: use guardedReleaseConfig'],
      [policy({ releaseMethod: 'immediate-release', guardedReleaseConfig: {} }), 'an immediate-release policy takes no guardedReleaseConfig or progressiveReleaseConfig'],
    ]
    for (const [body, message] of cases) await refused(server, 'POST', POLICIES, { body }, 400, 'invalid_request', new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
    await refused(server, 'POST', POLICIES, { body: '{' }, 400, 'invalid_request', /^the body is not valid JSON$/)
    assert.equal((await ok(server, 'GET', POLICIES)).totalCount, 2)
    // At the limits: accepted.
    const edge = await ok(server, 'POST', POLICIES, { body: policy({ key: 'a.B_9-z', name: 'x'.repeat(256), scope: { environmentKeys: ['test'], flagTagKeys: Array.from({ length: 1000 }, (_, i) => (i ? `t${i}` : 'x'.repeat(64))) } }) }, 201)
    assert.equal(edge.scope.flagTagKeys.length, 1000)
  })

  test('the configs: each field, each stage', async (t) => {
    const server = await start(t)
    const guarded = (config) => policy({ releaseMethod: 'guarded-release', guardedReleaseConfig: config })
    const progressive = (config) => policy({ progressiveReleaseConfig: config })
    const cases = [
      [guarded([]), 'guardedReleaseConfig must be an object'],
      [progressive('fast'), 'progressiveReleaseConfig must be an object'],
      [guarded({ rolloutContextKindKey: 5 }), 'guardedReleaseConfig.rolloutContextKindKey must be a string'],
      [guarded({ metricKeys: 'checkout-errors' }), 'guardedReleaseConfig.metricKeys must be an array of strings'],
      [guarded({ metricKeys: ['checkout-errors', 5] }), 'guardedReleaseConfig.metricKeys must be an array of strings'],
      [guarded({ metricGroupKeys: 'checkout-health' }), 'guardedReleaseConfig.metricGroupKeys must be an array of strings'],
      [guarded({ metricGroupKeys: [5] }), 'guardedReleaseConfig.metricGroupKeys must be an array of strings'],
      [guarded({ minSampleSize: -1 }), 'guardedReleaseConfig.minSampleSize must be a non-negative integer'],
      [guarded({ minSampleSize: 1.5 }), 'guardedReleaseConfig.minSampleSize must be a non-negative integer'],
      [guarded({ rollbackOnRegression: 'yes' }), 'guardedReleaseConfig.rollbackOnRegression must be a boolean'],
      [progressive({ stages: {} }), 'progressiveReleaseConfig.stages must be an array'],
      [progressive({ stages: [5] }), 'progressiveReleaseConfig.stages[0] needs integer allocation and durationMillis'],
      [progressive({ stages: [{ allocation: 1, durationMillis: 1 }, { allocation: 1.5, durationMillis: 1 }] }), 'progressiveReleaseConfig.stages[1] needs integer allocation and durationMillis'],
      [progressive({ stages: [{ allocation: 1, durationMillis: 'long' }] }), 'progressiveReleaseConfig.stages[0] needs integer allocation and durationMillis'],
      [progressive({ stages: [{ allocation: 0, durationMillis: 1 }] }), 'progressiveReleaseConfig.stages[0].allocation must be from 1 to 100000'],
      [progressive({ stages: [{ allocation: 100001, durationMillis: 1 }] }), 'progressiveReleaseConfig.stages[0].allocation must be from 1 to 100000'],
      [progressive({ stages: [{ allocation: 1, durationMillis: 0 }] }), 'progressiveReleaseConfig.stages[0].durationMillis must be positive'],
      [guarded({ stages: Array.from({ length: 11 }, () => ({ allocation: 1, durationMillis: 1 })) }), 'guardedReleaseConfig.stages: at most 10 stages for this account'],
    ]
    for (const [body, message] of cases) await refused(server, 'POST', POLICIES, { body }, 400, 'invalid_request', new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
    assert.equal((await ok(server, 'GET', POLICIES)).totalCount, 2)
    // At the limits, and null configs: accepted.
    const stages = Array.from({ length: 10 }, (_, i) => ({ allocation: i ? 100000 : 1, durationMillis: 1 }))
    const made = await ok(server, 'POST', POLICIES, { body: guarded({ minSampleSize: 0, rollbackOnRegression: false, metricKeys: ['checkout-errors'], metricGroupKeys: ['checkout-health'], rolloutContextKindKey: 'user', stages }) }, 201)
    assert.deepEqual([made.guardedReleaseConfig.stages.length, made.progressiveReleaseConfig], [10, null])
    const nulls = await ok(server, 'POST', POLICIES, { body: policy({ key: 'q', guardedReleaseConfig: null, progressiveReleaseConfig: null }) }, 201)
    assert.deepEqual([nulls.guardedReleaseConfig, nulls.progressiveReleaseConfig], [null, null])
  })

  test('excludeDefault=false lists the default; a default is refused while one exists and accepted once it is gone', async (t) => {
    const server = await start(t)
    assert.equal((await ok(server, 'GET', `${POLICIES}?excludeDefault=false`)).totalCount, 2)
    await refused(server, 'GET', `${POLICIES}?excludeDefault=1`, {}, 400, 'invalid_request', /^excludeDefault must be true or false$/)
    await call(server, 'DELETE', `${POLICIES}/production-guarded`)
    const unscoped = { key: 'other-default', name: 'Other', releaseMethod: 'immediate-release' }
    await refused(server, 'POST', POLICIES, { body: unscoped }, 400, 'invalid_request', /^the project already has a default release policy \(one without a scope\): give this one a scope$/)
    assert.deepEqual((await ok(server, 'GET', POLICIES)).items.map((p) => [p.key, p.rank]), [['default', 0]])
    await call(server, 'DELETE', `${POLICIES}/default`)
    const made = await ok(server, 'POST', POLICIES, { body: unscoped }, 201)
    assert.deepEqual([made.scope, made.rank], [null, 0])
  })

  test('deleting a scoped policy re-ranks the scoped ones and leaves the default at rank 0', async (t) => {
    const server = await start(t)
    await ok(server, 'POST', POLICIES, { body: policy() }, 201)
    await call(server, 'DELETE', `${POLICIES}/production-guarded`)
    assert.deepEqual((await ok(server, 'GET', POLICIES)).items.map((p) => [p.key, p.rank]), [['p', 1], ['default', 0]])
  })

  test('order: every refusal in full', async (t) => {
    const server = await start(t)
    await ok(server, 'POST', POLICIES, { body: policy() }, 201)
    await ok(server, 'POST', POLICIES, { body: policy({ key: 'q' }) }, 201)
    const order = `${POLICIES}/order`
    await refused(server, 'POST', order, { body: ['p', 5] }, 400, 'invalid_request', /^the body must be an array of release policy keys$/)
    await refused(server, 'POST', order, { body: '[' }, 400, 'invalid_request', /^the body is not valid JSON$/)
    await refused(server, 'POST', order, { body: ['production-guarded'] }, 400, 'invalid_request', /^the order must include all of the scoped release policies; missing: p, q$/)
    await refused(server, 'POST', order, { body: ['q', 'p', 'production-guarded', 'default'] }, 400, 'invalid_request', /^default is the default release policy, which has no rank: list only scoped policies$/)
    assert.deepEqual((await ok(server, 'POST', order, { body: ['q', 'p', 'production-guarded'] })).map((p) => p.key), ['q', 'p', 'production-guarded'])
  })

  test('update: what it replaces, and its refusals', async (t) => {
    const server = await start(t)
    const path = `${POLICIES}/production-guarded`
    const config = { rolloutContextKindKey: 'device', minSampleSize: 5, rollbackOnRegression: false, metricKeys: ['checkout-latency'], stages: [{ allocation: 5000, durationMillis: 1000 }] }
    const updated = await ok(server, 'PUT', path, { body: { name: 'Guarded in staging', releaseMethod: 'guarded-release', scope: { environmentKeys: ['staging'] }, guardedReleaseConfig: config } })
    assert.deepEqual([updated.name, updated.scope, updated.guardedReleaseConfig, updated.progressiveReleaseConfig, updated.rank], ['Guarded in staging', { environmentKeys: ['staging'] }, config, null, 1])
    assert.deepEqual(await ok(server, 'GET', path), updated)
    await refused(server, 'PUT', path, { body: '{' }, 400, 'invalid_request', /^the body is not valid JSON$/)
    await refused(server, 'PUT', path, { body: { name: '', releaseMethod: 'immediate-release', scope: { environmentKeys: ['test'] } } }, 400, 'invalid_request', /^name is required$/)
    await refused(server, 'PUT', path, { body: { name: 'x', releaseMethod: 'immediate-release' } }, 400, 'invalid_request', /^a scoped release policy must keep a scope$/)
    await refused(server, 'PUT', `${POLICIES}/default`, { body: { name: 'x', releaseMethod: 'immediate-release', scope: { environmentKeys: ['test'] } } }, 400, 'invalid_request', /^the default release policy cannot be given a scope$/)
    assert.deepEqual(await ok(server, 'GET', path), updated, 'the refusals changed nothing')
    const progressive = await ok(server, 'PUT', `${POLICIES}/default`, { body: { name: 'Default', releaseMethod: 'progressive-release', progressiveReleaseConfig: { stages: [{ allocation: 100000, durationMillis: 1 }] } } })
    assert.deepEqual([progressive.scope, progressive.guardedReleaseConfig, progressive.progressiveReleaseConfig], [null, null, { stages: [{ allocation: 100000, durationMillis: 1 }] }])
  })
})
