// Environment releases and release policies through the addon: each operation's request
// and answer, previewRequest, checks that send nothing, each refusal as a script branches
// on it, a start that is never sent twice, and the warning of a deprecated route.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { once } from 'node:events'
import diagnostics from 'node:diagnostics_channel'
import { TOKEN, countRawHeader, expectLdError, ld, sleep } from './helpers.mjs'

const RELEASES = '/api/v2/projects/web/flags/checkout/environments/production/releases'
const POLICIES = '/api/v2/projects/web/release-policies'
const KEYS = ['web', 'checkout', 'production']
const KIND = { contextKind: 'user', attribute: 'kind', op: 'in', values: ['user'] }

/**
 * A server on 127.0.0.1 answering with `answer(request)`: `{ status, body, headers }`,
 * or `'drop'` to close the connection without answering. Records each request.
 */
async function serve(t, answer) {
  const requests = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url, 'http://x')
      const request = { method: req.method, path: url.pathname, search: url.search, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(request)
      const out = answer(request)
      if (out === 'drop') return req.socket.destroy()
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...out.headers })
      res.end(out.body === undefined ? '' : typeof out.body === 'string' ? out.body : JSON.stringify(out.body))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  const url = `http://127.0.0.1:${server.address().port}`
  return { url, requests, client: new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: url, timeoutMs: 2000, maxRetries: 2 }) }
}

/** Expects `fn` to reject with ERR_LD_INVALID_ARGUMENT and a message matching `pattern`. */
async function refused(fn, pattern) {
  const error = await expectLdError(fn, { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.match(error.message, pattern)
}

/** A two-phase progressive start; the second phase lacks the kind clause. */
const input = () => ({
  originalVariationId: 'off-id',
  targetVariationId: 'on-id',
  randomizationUnit: 'user',
  advancementMode: 'automatic',
  phases: [
    { clauses: [KIND, { contextKind: 'user', attribute: 'country', op: 'in', values: ['nz'] }], steps: [{ allocation: 10000, durationMillis: 60000 }, { allocation: 100000, durationMillis: 60000 }] },
    { clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['au'] }], steps: [{ allocation: 100000, durationMillis: 1000 }] },
  ],
})

/** The release LaunchDarkly makes of `input()`. */
const releaseOf = (id, createdAt = Date.now()) => ({
  id, status: 'in_progress', projectKey: 'web', environmentKey: 'production', flagKey: 'checkout',
  originalVariationId: 'off-id', originalVariationValue: false, targetVariationId: 'on-id', targetVariationValue: true,
  randomizationUnit: 'user', cleanupBehavior: 'leave_rules_in_place', kind: 'progressive', metrics: [],
  advancementMode: 'automatic', currentPhaseIndex: 0, createdAt, futureField: { kept: true },
  phases: [
    { id: 'p0', phaseIndex: 0, ruleId: 'r0', status: 'in_progress', metricStatuses: {}, currentStepIndex: 0, startedAt: createdAt, steps: [{ stepIndex: 0, allocation: 10000, durationMillis: 60000, startedAt: createdAt }, { stepIndex: 1, allocation: 100000, durationMillis: 60000 }] },
    { id: 'p1', phaseIndex: 1, ruleId: 'r1', status: 'pending', metricStatuses: {}, steps: [{ stepIndex: 0, allocation: 100000, durationMillis: 1000 }] },
  ],
})

test('startEnvironmentRelease sends the documented POST once, with the kind clause added, and resolves to the release as sent', async (t) => {
  const made = releaseOf('rel-1')
  const s = await serve(t, () => ({ status: 201, body: made }))
  assert.deepEqual(await s.client.startEnvironmentRelease(...KEYS, input()), made)
  assert.deepEqual(await ld.startEnvironmentRelease(...KEYS, input(), { apiKey: TOKEN, baseUrl: s.url }), made)
  assert.equal(s.requests.length, 2)
  for (const request of s.requests) {
    assert.equal(request.method, 'POST')
    assert.equal(request.path, RELEASES)
    assert.equal(countRawHeader(request.rawHeaders, 'ld-api-version'), 1)
    assert.equal(request.rawHeaders[request.rawHeaders.findIndex((h) => h.toLowerCase() === 'ld-api-version') + 1], 'beta')
    const expected = input()
    expected.phases[1].clauses.unshift(KIND)
    assert.deepEqual(JSON.parse(request.body), expected)
  }
})

test('getEnvironmentRelease and stopEnvironmentRelease send the documented requests', async (t) => {
  const made = releaseOf('rel-1')
  const s = await serve(t, () => ({ body: made }))
  assert.deepEqual(await s.client.getEnvironmentRelease(...KEYS, 'rel-1'), made)
  assert.deepEqual(await s.client.getEnvironmentRelease(...KEYS, 'rel-1', { expandMetrics: true }), made)
  assert.deepEqual(await s.client.stopEnvironmentRelease(...KEYS, 'rel-1', { resolution: 'roll_back_all_phases_and_remove_pending_phases', comment: 'errors up' }), made)
  await ld.stopEnvironmentRelease(...KEYS, 'rel 2', { resolution: 'roll_forward_all_phases', apiKey: TOKEN, baseUrl: s.url })
  assert.deepEqual(s.requests.map((r) => `${r.method} ${r.path}${r.search}`), [
    `GET ${RELEASES}/rel-1`,
    `GET ${RELEASES}/rel-1?expand=metrics`,
    `PUT ${RELEASES}/rel-1/stop`,
    `PUT ${RELEASES}/rel%202/stop`,
  ])
  assert.deepEqual(JSON.parse(s.requests[2].body), { resolution: 'roll_back_all_phases_and_remove_pending_phases', comment: 'errors up' })
  assert.deepEqual(JSON.parse(s.requests[3].body), { resolution: 'roll_forward_all_phases' })
  for (const request of s.requests) assert.equal(countRawHeader(request.rawHeaders, 'ld-api-version'), 1)
})

test('release policies: list is one request resolving to the answer, and each call sends what is documented', async (t) => {
  const policy = { _id: 'id1', key: 'safe', name: 'Safe', rank: 1, releaseMethod: 'guarded-release', scope: { environmentKeys: ['production'] } }
  const s = await serve(t, (r) => {
    if (r.method === 'DELETE') return { status: 204 }
    if (r.path === `${POLICIES}/order`) return { body: ['b', 'safe'] }
    if (r.method === 'GET' && r.path === POLICIES) return { body: { items: [policy], totalCount: 1 } }
    return { body: policy }
  })
  const c = s.client
  assert.deepEqual(await c.listReleasePolicies('web'), { items: [policy], totalCount: 1 })
  assert.deepEqual(await c.getReleasePolicy('web', 'safe'), policy)
  const create = { key: 'safe', name: 'Safe', releaseMethod: 'guarded-release', guardedReleaseConfig: { metricKeys: ['errors'], stages: [{ allocation: 1000, durationMillis: 60000 }] } }
  assert.deepEqual(await c.createReleasePolicy('web', create), policy)
  const update = { name: 'Safer', releaseMethod: 'progressive-release', progressiveReleaseConfig: { stages: [{ allocation: 50000, durationMillis: 1000 }] } }
  assert.deepEqual(await c.updateReleasePolicy('web', 'safe', update), policy)
  assert.equal(await c.deleteReleasePolicy('web', 'safe'), undefined)
  assert.deepEqual(await c.reorderReleasePolicies('web', ['b', 'safe']), ['b', 'safe'])
  assert.deepEqual(s.requests.map((r) => `${r.method} ${r.path}`), [
    `GET ${POLICIES}`, `GET ${POLICIES}/safe`, `POST ${POLICIES}`, `PUT ${POLICIES}/safe`, `DELETE ${POLICIES}/safe`, `POST ${POLICIES}/order`,
  ])
  assert.deepEqual(JSON.parse(s.requests[2].body), create)
  assert.deepEqual(JSON.parse(s.requests[3].body), update)
  assert.deepEqual(JSON.parse(s.requests[5].body), ['b', 'safe'])
  for (const request of s.requests) assert.equal(countRawHeader(request.rawHeaders, 'ld-api-version'), 1)
})

test('previewRequest shows each operation\'s request and sends nothing', async (t) => {
  const s = await serve(t, () => ({ status: 599 }))
  const options = { apiKey: TOKEN, baseUrl: s.url }
  const base = `${s.url}${RELEASES}`
  const cases = [
    [['startEnvironmentRelease', ...KEYS, input(), options], 'POST', base],
    [['getEnvironmentRelease', ...KEYS, 'r1', { ...options, expandMetrics: true }], 'GET', `${base}/r1?expand=metrics`],
    [['stopEnvironmentRelease', ...KEYS, 'r1', { ...options, resolution: 'roll_forward_all_phases' }], 'PUT', `${base}/r1/stop`, { resolution: 'roll_forward_all_phases' }],
    [['listReleasePolicies', 'web', options], 'GET', `${s.url}${POLICIES}`],
    [['getReleasePolicy', 'web', 'safe', options], 'GET', `${s.url}${POLICIES}/safe`],
    [['createReleasePolicy', 'web', { key: 'k', name: 'N', releaseMethod: 'immediate-release' }, options], 'POST', `${s.url}${POLICIES}`, { key: 'k', name: 'N', releaseMethod: 'immediate-release' }],
    [['updateReleasePolicy', 'web', 'k', { name: 'N', releaseMethod: 'immediate-release' }, options], 'PUT', `${s.url}${POLICIES}/k`, { name: 'N', releaseMethod: 'immediate-release' }],
    [['deleteReleasePolicy', 'web', 'k', options], 'DELETE', `${s.url}${POLICIES}/k`],
    [['reorderReleasePolicies', 'web', ['a', 'b'], options], 'POST', `${s.url}${POLICIES}/order`, ['a', 'b']],
  ]
  for (const [args, method, url, body] of cases) {
    const preview = ld.previewRequest(...args)
    assert.equal(preview.method, method, args[0])
    assert.equal(preview.url, url, args[0])
    assert.equal(preview.headers['LD-API-Version'], 'beta')
    assert.equal(preview.headers.Authorization, `****${TOKEN.slice(-4)}`)
    if (body !== undefined) assert.deepEqual(JSON.parse(preview.body), body, args[0])
  }
  const start = JSON.parse(ld.previewRequest('startEnvironmentRelease', ...KEYS, input()).body)
  assert.deepEqual(start.phases[1].clauses[0], KIND, 'the preview shows the clause added')
  await sleep(20)
  assert.equal(s.requests.length, 0)
})

test('bad input and options are refused naming the argument, and send nothing', async (t) => {
  const s = await serve(t, () => ({ status: 599 }))
  const c = s.client
  const bad = (change) => {
    const value = input()
    change(value)
    return value
  }
  const cases = [
    [bad((v) => (v.phases[1].steps = [{ allocation: 50000, durationMillis: 1 }, { allocation: 40000, durationMillis: 1 }])), 'input.phases[1].steps[1].allocation must be greater than the step before\'s (50000), got 40000'],
    [bad((v) => (v.phases[0].steps[0].allocation = 100001)), 'input.phases[0].steps[0].allocation must be a whole number from 1 to 100000, got 100001'],
    [bad((v) => (v.metrics = [{ metricKey: 'errors', autoRollback: true }])), 'input.phases[0].steps[1].allocation: a guarded release (one with metrics) allocates at most 50000 (50%), keeping a control group; got 100000'],
    [bad((v) => delete v.randomizationUnit), 'input.randomizationUnit is required'],
    [bad((v) => (v.releasePlanKey = 'standard')), 'input.randomizationUnit cannot be set with releasePlanKey'],
    [bad((v) => (v.phases[1] = { ruleId: 'rule-7', steps: [{ allocation: 1, durationMillis: 1 }] })), 'input.phases[1].ruleId: only a single-phase release can use an existing rule'],
    [bad((v) => delete v.advancementMode), 'input.advancementMode is required with more than one phase'],
    [bad((v) => (v.phases[0].clauses[1].values = [null])), 'input.phases[0].clauses[1].values[0] must be a string, number or boolean, got null'],
    [bad((v) => (v.phase = [])), 'input.phase is not a field here'],
  ]
  for (const [value, message] of cases) {
    const error = await expectLdError(() => c.startEnvironmentRelease(...KEYS, value), { code: 'ERR_LD_INVALID_ARGUMENT' })
    assert.ok(error.message.startsWith(message), `${error.message}\n  expected ${message}`)
    assert.throws(() => ld.previewRequest('startEnvironmentRelease', ...KEYS, value), { code: 'ERR_LD_INVALID_ARGUMENT' })
  }
  await refused(() => c.startEnvironmentRelease('web', 'checkout', '', input()), /^environmentKey/)
  await refused(() => c.stopEnvironmentRelease(...KEYS, 'r1'), /^options\.resolution is required: one of roll_forward_all_phases, /)
  await refused(() => c.stopEnvironmentRelease(...KEYS, 'r1', { resolution: 'rollback' }), /^options\.resolution must be one of .*, got "rollback"$/)
  await refused(() => c.stopEnvironmentRelease(...KEYS, 'r1', { resolutoin: 'roll_forward_all_phases' }), /^options\.resolutoin is not an option \(did you mean resolution\?\)/)
  await refused(() => c.getEnvironmentRelease(...KEYS, 'r1', { expandMetric: true }), /did you mean expandMetrics\?/)
  await refused(() => c.getEnvironmentRelease(...KEYS, 'r1', { resolution: 'roll_forward_all_phases' }), /^options\.resolution is an option of stopEnvironmentRelease only/)
  await refused(() => c.reorderReleasePolicies('web', ['a', 'a']), /^keys\[1\]: "a" is named twice/)
  await refused(() => c.reorderReleasePolicies('web', 'a'), /^keys must be an array/)
  await refused(() => c.createReleasePolicy('web', { name: 'N', releaseMethod: 'guarded-release' }), /^input\.key is required/)
  await sleep(20)
  assert.equal(s.requests.length, 0)
})

test('refusals of a start reach the caller as codes and fields, each sent once', async (t) => {
  const answers = {
    active: { status: 409, body: { code: 'release_already_active', message: 'A release is already active on this flag' } },
    off: { status: 409, body: { code: 'conflict', message: 'The flag is off in this environment' } },
    checks: { status: 400, body: { code: 'health_checks_failed', message: 'Release health checks failed', failedChecks: ['flag_evaluations_any', 'flag_evaluations_with_context'] } },
    approval: { status: 405, body: { code: 'method_not_allowed', message: 'This environment requires approvals' } },
    plans: { status: 422, body: { code: 'unprocessable_entity', message: 'Release plans are not available' } },
  }
  let next
  const s = await serve(t, () => answers[next])
  const c = s.client
  next = 'active'
  const active = await expectLdError(() => c.startEnvironmentRelease(...KEYS, input()), { code: 'ERR_LD_CONFLICT', status: 409, apiCode: 'release_already_active' })
  assert.match(active.message, /a release of web\/checkout in production is already running; nothing was started/)
  next = 'off'
  const off = await expectLdError(() => c.startEnvironmentRelease(...KEYS, input()), { code: 'ERR_LD_CONFLICT', status: 409, apiCode: 'conflict' })
  assert.doesNotMatch(off.message, /already running/)
  next = 'checks'
  const checks = await expectLdError(() => c.startEnvironmentRelease(...KEYS, input()), { code: 'ERR_LD_BAD_REQUEST', status: 400, apiCode: 'health_checks_failed' })
  assert.deepEqual(checks.failedHealthChecks, ['flag_evaluations_any', 'flag_evaluations_with_context'])
  assert.match(checks.message, /to start anyway, pass bypassHealthChecks: \['flag_evaluations_any', 'flag_evaluations_with_context'\]/)
  next = 'approval'
  await expectLdError(() => c.startEnvironmentRelease(...KEYS, input()), { code: 'ERR_LD_APPROVAL_REQUIRED', status: 405 })
  await expectLdError(() => c.stopEnvironmentRelease(...KEYS, 'r1', { resolution: 'roll_forward_all_phases' }), { code: 'ERR_LD_APPROVAL_REQUIRED', status: 405 })
  next = 'plans'
  const plan = { originalVariationId: 'off-id', targetVariationId: 'on-id', releasePlanKey: 'standard' }
  await expectLdError(() => c.startEnvironmentRelease(...KEYS, plan), { code: 'ERR_LD_UNSUPPORTED', status: 422 })
  assert.equal(s.requests.length, 6, 'no refusal is retried')
})

test('a start whose connection dropped is not sent again: a matching release resolves it, else ERR_LD_OUTCOME_UNKNOWN', async (t) => {
  let listed = []
  const s = await serve(t, (r) => (r.method === 'POST' ? 'drop' : { body: { items: listed(), totalCount: listed().length } }))
  listed = () => [{ ...releaseOf('theirs'), targetVariationId: 'other' }, releaseOf('mine')]
  const found = await s.client.startEnvironmentRelease(...KEYS, input())
  assert.equal(found.id, 'mine')
  assert.deepEqual(s.requests.map((r) => `${r.method} ${r.path}${r.search}`), [`POST ${RELEASES}`, `GET ${RELEASES}?limit=100`])
  listed = () => [releaseOf('old', Date.now() - 3_600_000)]
  const unknown = await expectLdError(() => s.client.startEnvironmentRelease(...KEYS, input()), { code: 'ERR_LD_OUTCOME_UNKNOWN', attempts: 1 })
  assert.match(unknown.message, /may or may not have been applied: .*no release of the flag in that environment created since matches it\. It was not sent again \(a start is not idempotent\)\. Check with listEnvironmentReleases\('web', 'checkout', 'production'\) before starting again/)
  assert.equal(s.requests.filter((r) => r.method === 'POST').length, 2, 'one POST per call, though maxRetries is 2')
})

test('a start that got a 5xx is not sent again either', async (t) => {
  const s = await serve(t, (r) => (r.method === 'POST' ? { status: 502, body: '<html>Bad Gateway</html>' } : { body: { items: [releaseOf('mine')], totalCount: 1 } }))
  assert.equal((await s.client.startEnvironmentRelease(...KEYS, input())).id, 'mine')
  assert.equal(s.requests.filter((r) => r.method === 'POST').length, 1)
})

test('a route the service says is deprecated is warned of once per process, and published', async (t) => {
  const s = await serve(t, (r) => {
    const body = { _id: 'i', key: 'k', name: 'N', rank: 0, releaseMethod: 'guarded-release' }
    if (r.path.endsWith('/quiet')) return { body }
    return { body, headers: { Deprecation: '@1790812800', Sunset: 'Wed, 01 Sep 2027 00:00:00 GMT' } }
  })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const published = []
  const onMessage = (m) => published.push(m)
  diagnostics.subscribe('ld-release:deprecation', onMessage)
  t.after(() => diagnostics.unsubscribe('ld-release:deprecation', onMessage))
  await s.client.getReleasePolicy('web', 'quiet')
  await sleep(10)
  assert.deepEqual(warnings.filter((w) => w.code === 'LD_RELEASE_DEPRECATED_ROUTE'), [], 'nothing when the service says nothing')
  await s.client.getReleasePolicy('web', 'k')
  await ld.getReleasePolicy('web', 'other', { apiKey: TOKEN, baseUrl: s.url })
  await s.client.deleteReleasePolicy('web', 'k')
  await sleep(10)
  const ours = warnings.filter((w) => w.code === 'LD_RELEASE_DEPRECATED_ROUTE')
  assert.deepEqual(ours.map((w) => [w.name, w.message]), [
    ['DeprecationWarning', 'GET /api/v2/projects/{projectKey}/release-policies/{policyKey} is deprecated by LaunchDarkly and will be removed (Deprecation: @1790812800; Sunset: Wed, 01 Sep 2027 00:00:00 GMT)'],
    ['DeprecationWarning', 'DELETE /api/v2/projects/{projectKey}/release-policies/{policyKey} is deprecated by LaunchDarkly and will be removed (Deprecation: @1790812800; Sunset: Wed, 01 Sep 2027 00:00:00 GMT)'],
  ])
  assert.deepEqual(published, [
    { method: 'GET', route: '/api/v2/projects/{projectKey}/release-policies/{policyKey}', deprecation: '@1790812800', sunset: 'Wed, 01 Sep 2027 00:00:00 GMT' },
    { method: 'DELETE', route: '/api/v2/projects/{projectKey}/release-policies/{policyKey}', deprecation: '@1790812800', sunset: 'Wed, 01 Sep 2027 00:00:00 GMT' },
  ])
})
