// listEnvironmentReleases and watchEnvironmentRelease through the addon, against small
// loopback servers: the requests each sends, pages and early exits, aborts, the states
// a watch yields and when it ends, and previewRequest for both.
import assert from 'node:assert/strict'
import test from 'node:test'

import { TOKEN, expectLdError, ld, sleep, startFakeLaunchDarkly, tinyServer } from './helpers.mjs'

const RELEASES = '/api/v2/projects/web/flags/checkout/environments/production/releases'

function client(server, options = {}) {
  return new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, timeoutMs: 2000, maxRetries: 0, ...options })
}

/** A release at step `step` of its one phase, the step running for an hour from now. */
function release(status, { step = 0, reason = null, kind = 'progressive', metric = 'ok' } = {}) {
  const ended = status === 'completed' || status === 'reverted'
  return {
    id: 'rel-1',
    status,
    statusReason: reason,
    kind,
    projectKey: 'web',
    flagKey: 'checkout',
    environmentKey: 'production',
    metrics: kind === 'guarded' ? [{ metricKey: 'errors', autoRollback: true }] : [],
    currentPhaseIndex: ended ? null : 0,
    advancementMode: 'automatic',
    createdAt: Date.now(),
    phases: [
      {
        id: 'p0',
        phaseIndex: 0,
        ruleId: 'rule-1',
        status: ended ? status : 'in_progress',
        currentStepIndex: step,
        metricStatuses: kind === 'guarded' ? { errors: metric } : {},
        steps: [0, 1, 2].map((i) => ({
          stepIndex: i,
          allocation: 10000 * (i + 1),
          durationMillis: 3_600_000,
          ...(i <= step ? { startedAt: Date.now() } : {}),
        })),
      },
    ],
  }
}

/** A page of releases `r<from>`… with `totalCount` and, when given, `_links.next`. */
function page(from, n, total, next) {
  const items = Array.from({ length: n }, (_, i) => ({ id: `r${from + i}`, status: 'completed' }))
  const links = { self: { href: RELEASES, type: 'application/json' } }
  if (next) links.next = { href: next, type: 'application/json' }
  return { items, totalCount: total, _links: links }
}

test('listEnvironmentReleases asks for pages of 100 with the kind filter and follows _links.next', async (t) => {
  const next = `${RELEASES}?filter=kind%20equals%20guarded&limit=100&offset=100&_snapshot=1733000000000000000`
  const server = await tinyServer(t, (req) =>
    req.url.includes('_snapshot') ? { body: page(100, 1, 101) } : { body: page(0, 100, 101, next) },
  )
  const ids = []
  for await (const r of client(server).listEnvironmentReleases('web', 'checkout', 'production', { kind: 'guarded' })) {
    ids.push(r.id)
  }
  assert.equal(ids.length, 101)
  assert.deepEqual([ids[0], ids[100]], ['r0', 'r100'])
  assert.deepEqual(
    server.requests.map((r) => `${r.method} ${r.url}`),
    [`GET ${RELEASES}?filter=kind%20equals%20guarded&limit=100&offset=0`, `GET ${next}`],
  )
  for (const r of server.requests) assert.equal(r.headers['ld-api-version'], 'beta')
  // Without a kind, and as a module-level function.
  const all = []
  for await (const r of ld.listEnvironmentReleases('web', 'checkout', 'production', { apiKey: TOKEN, baseUrl: server.url })) {
    all.push(r.id)
    if (all.length === 2) break
  }
  assert.equal(server.requests[2].url, `${RELEASES}?limit=100&offset=0`)
})

test('leaving a list early fetches no more pages', async (t) => {
  const server = await tinyServer(t, (req) => {
    const offset = Number(new URL(req.url, 'http://x').searchParams.get('offset'))
    return { body: page(offset, 100, 1000) }
  })
  const seen = []
  for await (const r of client(server).listEnvironmentReleases('web', 'checkout', 'production')) {
    seen.push(r.id)
    if (seen.length === 150) break
  }
  await sleep(50)
  assert.equal(seen.length, 150)
  assert.deepEqual(
    server.requests.map((r) => r.url),
    [`${RELEASES}?limit=100&offset=0`, `${RELEASES}?limit=100&offset=100`],
  )
})

test('a server whose pages do not move on ends the list with ERR_LD_DECODE', async (t) => {
  const server = await tinyServer(t, () => ({ body: { items: [{ id: 'a' }, { id: 'b' }], totalCount: 1000000 } }))
  const seen = []
  const error = await expectLdError(
    async () => {
      for await (const r of client(server).listEnvironmentReleases('web', 'checkout', 'production')) seen.push(r.id)
    },
    { code: 'ERR_LD_DECODE' },
  )
  assert.match(error.message, /pages do not end: page 2 of the list .* repeats a page already read/)
  assert.deepEqual(seen, ['a', 'b'])
  assert.equal(server.requests.length, 2)
})

test('aborting a list rejects with an AbortError and sends nothing more', async (t) => {
  let held
  const server = await tinyServer(t, (req) => {
    if (req.url.includes('offset=100')) held = req
    return req.url.includes('offset=0') ? { body: page(0, 100, 300) } : { body: page(100, 100, 300) }
  })
  const controller = new AbortController()
  const c = client(server)
  const seen = []
  const error = await (async () => {
    try {
      for await (const r of c.listEnvironmentReleases('web', 'checkout', 'production', { signal: controller.signal })) {
        seen.push(r.id)
        if (seen.length === 100) controller.abort()
      }
    } catch (e) {
      return e
    }
  })()
  assert.equal(error?.name, 'AbortError')
  assert.equal(seen.length, 100)
  assert.equal(held, undefined, 'the second page was never asked for')
  // An already-aborted signal: nothing is sent.
  const before = server.requests.length
  const aborted = AbortSignal.abort()
  const it = c.listEnvironmentReleases('web', 'checkout', 'production', { signal: aborted })[Symbol.asyncIterator]()
  await assert.rejects(it.next(), { name: 'AbortError' })
  assert.equal(server.requests.length, before)
})

test('bad arguments and options reject the first next() and send nothing', async (t) => {
  const server = await tinyServer(t, () => ({ body: page(0, 1, 1) }))
  const c = client(server)
  const cases = [
    [() => c.listEnvironmentReleases('web', 'checkout', ''), /environmentKey/],
    [() => c.listEnvironmentReleases('web', 'checkout', 'production', { kind: 'canary' }), /options\.kind must be 'progressive' or 'guarded'/],
    [() => c.listEnvironmentReleases('web', 'checkout', 'production', { kind: 1 }), /options\.kind must be a string/],
    [() => c.listEnvironmentReleases('web', 'checkout', 'production', { intervalMs: 100 }), /intervalMs is an option of watchEnvironmentRelease only/],
    [() => c.watchEnvironmentRelease('web', 'checkout', 'production', ''), /releaseId/],
    [() => c.watchEnvironmentRelease('web', 'checkout', 'production', 'r', { intervalMs: 99 }), /intervalMs must be an integer from 100 to 3600000/],
    [() => c.watchEnvironmentRelease('web', 'checkout', 'production', 'r', { intervalMs: 1.5 }), /intervalMs/],
    [() => c.watchEnvironmentRelease('web', 'checkout', 'production', 'r', { kind: 'guarded' }), /kind is an option of listEnvironmentReleases only/],
    [() => c.watchEnvironmentRelease('web', 'checkout', 'production', 'r', { intervalMS: 1000 }), /did you mean intervalMs/],
  ]
  for (const [call, message] of cases) {
    const it = call()[Symbol.asyncIterator]()
    const error = await expectLdError(() => it.next(), { code: 'ERR_LD_INVALID_ARGUMENT' })
    assert.match(error.message, message)
  }
  assert.equal(server.requests.length, 0)
})

/** A server answering the watch's reads with `states[n]` (the last one after the end). */
async function releaseServer(t, states) {
  let n = 0
  return tinyServer(t, () => ({ body: states[Math.min(n++, states.length - 1)] }))
}

test('a watch yields the release when it changes and ends at completed', async (t) => {
  const s = await releaseServer(t, [
    release('in_progress'),
    release('in_progress'),
    release('in_progress', { step: 1 }),
    release('in_progress', { step: 1 }),
    release('completed', { step: 2, reason: 'completed_automatic' }),
  ])
  const seen = []
  for await (const r of client(s).watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', { intervalMs: 100 })) {
    seen.push(`${r.status}:${r.phases[0].currentStepIndex}:${s.requests.length}`)
  }
  assert.deepEqual(seen, ['in_progress:0:1', 'in_progress:1:3', 'completed:2:5'])
  assert.equal(s.requests.length, 5)
  for (const r of s.requests) {
    assert.equal(`${r.method} ${r.url}`, `GET ${RELEASES}/rel-1`)
    assert.equal(r.headers['ld-api-version'], 'beta')
  }
  await sleep(250)
  assert.equal(s.requests.length, 5, 'nothing after the end')
})

test('a watch of a guarded release tells a regression and ends at reverted', async (t) => {
  const s = await releaseServer(t, [
    release('in_progress', { kind: 'guarded' }),
    release('waiting', { kind: 'guarded', reason: 'waiting_regression_detected', metric: 'regressed' }),
    release('reverted', { kind: 'guarded', reason: 'reverted_manual', metric: 'regressed' }),
  ])
  const seen = []
  for await (const r of ld.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', {
    apiKey: TOKEN,
    baseUrl: s.url,
    intervalMs: 100,
  })) {
    seen.push([r.status, r.statusReason, r.phases[0].metricStatuses.errors])
  }
  assert.deepEqual(seen, [
    ['in_progress', null, 'ok'],
    ['waiting', 'waiting_regression_detected', 'regressed'],
    ['reverted', 'reverted_manual', 'regressed'],
  ])
  assert.equal(s.requests.length, 3)
})

test('leaving a watch, return() and aborting stop it at once', async (t) => {
  const s = await releaseServer(t, [release('in_progress')])
  const c = client(s)
  // break: the first state only, nothing read after.
  for await (const r of c.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', { intervalMs: 100 })) {
    assert.equal(r.status, 'in_progress')
    break
  }
  await sleep(300)
  assert.equal(s.requests.length, 1)
  // return() while a next() waits for its read: it resolves as done, nothing is read.
  const it = c.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', { intervalMs: 3_600_000 })[Symbol.asyncIterator]()
  assert.equal((await it.next()).done, false)
  const waiting = it.next()
  await sleep(50)
  assert.deepEqual(await it.return(), { value: undefined, done: true })
  assert.deepEqual(await waiting, { value: undefined, done: true })
  assert.deepEqual(await it.next(), { value: undefined, done: true })
  assert.equal(s.requests.length, 2)
  // An abort during the wait: an AbortError, and nothing more is read.
  const controller = new AbortController()
  const watched = c.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', {
    intervalMs: 3_600_000,
    signal: controller.signal,
  })[Symbol.asyncIterator]()
  await watched.next()
  const pending = watched.next()
  setTimeout(() => controller.abort(), 50)
  await assert.rejects(pending, { name: 'AbortError' })
  await assert.rejects(watched.next(), { name: 'AbortError' })
  await sleep(200)
  assert.equal(s.requests.length, 3)
  // An already-aborted signal: nothing is sent.
  const gone = c.watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1', { signal: AbortSignal.abort() })
  await assert.rejects(gone[Symbol.asyncIterator]().next(), { name: 'AbortError' })
  assert.equal(s.requests.length, 3)
})

test('a read that fails rejects that next() and ends the watch', async (t) => {
  const s = await tinyServer(t, () => ({ status: 404, body: { code: 'not_found', message: 'Unknown release' } }))
  const it = client(s).watchEnvironmentRelease('web', 'checkout', 'production', 'rel-1')[Symbol.asyncIterator]()
  await expectLdError(() => it.next(), { code: 'ERR_LD_NOT_FOUND', status: 404 })
  assert.deepEqual(await it.next(), { value: undefined, done: true })
  assert.equal(s.requests.length, 1)
})

test('previewRequest shows the first request of both', () => {
  const options = { apiKey: TOKEN, baseUrl: 'http://127.0.0.1:9' }
  const list = ld.previewRequest('listEnvironmentReleases', 'web', 'checkout', 'production', { ...options, kind: 'progressive' })
  assert.equal(list.method, 'GET')
  assert.equal(list.url, `http://127.0.0.1:9${RELEASES}?filter=kind%20equals%20progressive&limit=100&offset=0`)
  assert.equal(list.headers['LD-API-Version'], 'beta')
  assert.ok(!JSON.stringify(list).includes(TOKEN))
  const watch = ld.previewRequest('watchEnvironmentRelease', 'web', 'checkout', 'production', 'rel 1', { ...options, intervalMs: 1000 })
  assert.equal(watch.method, 'GET')
  assert.equal(watch.url, `http://127.0.0.1:9${RELEASES}/rel%201`)
  assert.equal(watch.body, undefined)
  assert.throws(() => ld.previewRequest('watchEnvironmentRelease', 'web', 'checkout', 'production', 'r', { intervalMs: 5 }), {
    code: 'ERR_LD_INVALID_ARGUMENT',
  })
})

/** A fake whose clock runs 100 times real time, new-checkout on in production, and a start body of two phases of two 2-minute steps. */
async function spedUpFake(t, { metrics } = {}) {
  const server = await startFakeLaunchDarkly({ apiKey: TOKEN, clock: { speed: 100 } })
  t.after(() => server.close())
  server.setFlagOn('web', 'new-checkout', 'production', true)
  const flag = server.getFlag('web', 'new-checkout')
  const id = (value) => flag.variations.find((v) => v.value === value)._id
  const body = {
    originalVariationId: id(false),
    targetVariationId: id(true),
    randomizationUnit: 'user',
    advancementMode: 'automatic',
    ...(metrics ? { metrics } : {}),
    phases: [0, 1].map((i) => ({
      clauses: [{ contextKind: 'user', attribute: 'segment', op: 'in', values: [`wave-${i}`] }],
      description: `Wave ${i}`,
      steps: [10_000, 50_000].map((allocation) => ({ allocation, durationMillis: 120_000 })),
    })),
  }
  return { server, body }
}

const FAKE_RELEASES = '/api/v2/projects/web/flags/new-checkout/environments/production/releases'

test('a watch follows a release on the fake, its clock sped up, to completed', async (t) => {
  const { server, body } = await spedUpFake(t)
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url })
  const started = await c.startEnvironmentRelease('web', 'new-checkout', 'production', body)
  const seen = []
  for await (const r of c.watchEnvironmentRelease('web', 'new-checkout', 'production', started.id)) {
    seen.push(`${r.status}:${r.currentPhaseIndex ?? '-'}:${r.currentPhaseIndex === undefined || r.currentPhaseIndex === null ? '-' : r.phases[r.currentPhaseIndex].currentStepIndex}`)
  }
  // Every step in order, then the end: the watch read the fake's clock from its Date
  // headers, at 100 times its own, and read each step just after it ended.
  assert.deepEqual(seen, ['in_progress:0:0', 'in_progress:0:1', 'in_progress:1:0', 'in_progress:1:1', 'completed:-:-'])
  const reads = server.requests.filter((r) => r.method === 'GET' && r.path === `${FAKE_RELEASES}/${started.id}`)
  // A read every 5 s of the fake's 8 minutes would be 96: the watch reads a few per step.
  assert.ok(reads.length >= 5 && reads.length <= 30, `${reads.length} reads`)
  const final = server.getEnvironmentRelease(started.id)
  assert.equal(final.status, 'completed')
  assert.equal(final.statusReason, 'completed_automatic')
})

test('a watch on the fake, its clock sped up, tells a regression that reverts the release', async (t) => {
  const { server, body } = await spedUpFake(t, { metrics: [{ metricKey: 'checkout-errors', autoRollback: true }] })
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url })
  const started = await c.startEnvironmentRelease('web', 'new-checkout', 'production', body)
  assert.equal(started.kind, 'guarded')
  const seen = []
  for await (const r of c.watchEnvironmentRelease('web', 'new-checkout', 'production', started.id)) {
    const phase = r.phases[r.currentPhaseIndex ?? 0]
    seen.push([r.status, r.statusReason ?? null, r.currentPhaseIndex ?? null, phase.metricStatuses['checkout-errors']])
    if (r.status === 'in_progress' && phase.currentStepIndex === 1) server.reportRegression(started.id, 'checkout-errors')
  }
  assert.deepEqual(seen, [
    ['in_progress', null, 0, 'ok'],
    ['in_progress', null, 0, 'ok'],
    ['reverted', 'reverted_regression_detected', null, 'regressed'],
  ])
  assert.equal(server.getEnvironmentRelease(started.id).phases[1].status, 'reverted')
})

test("the fake's environment-release answers carry its own clock's time as Date", async (t) => {
  const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678)
  const server = await startFakeLaunchDarkly({ apiKey: TOKEN, clock: { start: T0 } })
  t.after(() => server.close())
  const headers = { Authorization: TOKEN, 'LD-API-Version': 'beta', Connection: 'close' }
  const res = await fetch(`${server.url}${FAKE_RELEASES}`, { headers })
  await res.text()
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('date'), 'Fri, 02 Jan 2026 03:04:05 GMT')
  server.advance(3_600_000)
  const later = await fetch(`${server.url}${FAKE_RELEASES}/no-such-release`, { headers })
  await later.text()
  assert.equal(later.status, 404)
  assert.equal(later.headers.get('date'), 'Fri, 02 Jan 2026 04:04:05 GMT')
})
