// Bulk runs (completePhases), the shared rate-limit gate, and cancellation of waits.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TOKEN, client, fake, ld, sampleRelease } from './helpers.mjs'

const flags = (n) => Array.from({ length: n }, (_, i) => `flag-${i}`)
const seeded = (keys) => keys.map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() }))
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test('200 items under a limit of 20 per second all succeed, with at most one 429 per window', async (t) => {
  const keys = flags(200)
  const server = await fake(t, { releases: seeded(keys), rateLimit: { limit: 20, windowMs: 1000 } })
  const items = keys.map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 }))
  const progress = []
  const start = performance.now()
  const results = await client(server, { maxRetries: 5 }).completePhases(items, {
    concurrency: 16,
    onProgress: (done, total) => progress.push([done, total]),
  })
  const elapsed = performance.now() - start
  const windows = Math.ceil(elapsed / 1000) + 1
  t.diagnostic(`200 items in ${elapsed.toFixed(0)} ms, ${server.rateLimited} × 429 over ~${windows} windows`)

  assert.equal(results.length, 200)
  results.forEach((r, i) => {
    assert.equal(r.ok, true, `item ${i}: ${r.error?.message}`)
    assert.equal(r.release.phases[0].complete, true)
  })
  for (const flagKey of keys) assert.equal(server.getRelease('web', flagKey).phases[0].complete, true)
  assert.ok(server.rateLimited <= windows, `${server.rateLimited} 429s in ${windows} windows`)
  // 200 requests at 20 per window need at least 9 full windows after the first.
  assert.ok(elapsed >= 9000, `finished in ${elapsed} ms, faster than the limit allows`)
  await sleep(20) // progress calls are delivered through the event loop
  assert.equal(progress.length, 200)
  assert.deepEqual(progress.at(-1), [200, 200])
  assert.deepEqual(progress.map(([done]) => done), [...progress.map(([done]) => done)].sort((a, b) => a - b))
})

test('results keep input order; a bad or failing item never rejects the batch', async (t) => {
  const server = await fake(t, { releases: seeded(['a', 'b']) })
  const results = await client(server).completePhases([
    { projectKey: 'web', flagKey: 'b', phase: 1 },
    { projectKey: 'web', flagKey: '', phase: 0 },
    { projectKey: 'web', flagKey: 'missing', phase: 0 },
    { projectKey: 'web', flagKey: 'a', phase: -1 },
    { projectKey: 'web', flagKey: 'a', phase: 2, complete: false },
    'not an item',
  ])
  assert.deepEqual(
    results.map((r) => (r.ok ? 'ok' : r.error.code)),
    ['ok', 'ERR_LD_INVALID_ARGUMENT', 'ERR_LD_NOT_FOUND', 'ERR_LD_INVALID_ARGUMENT', 'ok', 'ERR_LD_INVALID_ARGUMENT'],
  )
  assert.equal(results[0].release.phases[1].complete, true)
  assert.equal(results[4].release.phases[2].complete, false)
  // The whole Release, as the single-call methods return it.
  assert.deepEqual(results[0].release, server.getRelease('web', 'b'))
  assert.deepEqual(results[4].release, server.getRelease('web', 'a'))
  assert.match(results[1].error.message, /^items\[1\]\.flagKey/)
  assert.match(results[3].error.message, /^items\[3\]\.phase/)
  assert.equal(results[2].error.name, 'LaunchDarklyError')
  assert.equal(results[2].error.status, 404)
  // Only the three valid items were sent: each its release read (one read of the
  // pipeline for both), and the two that exist their PATCH.
  assert.deepEqual(
    server.requests.map((r) => `${r.method} ${r.path}`).sort(),
    [
      'GET /api/v2/flags/web/a/release',
      'GET /api/v2/flags/web/b/release',
      'GET /api/v2/flags/web/missing/release',
      'GET /api/v2/projects/web/release-pipelines/standard-rollout',
      'PATCH /api/v2/flags/web/a/release',
      'PATCH /api/v2/flags/web/b/release',
    ],
  )
})

test('a failing item does not stop its worker: with one worker, every item after it is still done', async (t) => {
  const server = await fake(t, { releases: seeded(['a', 'b', 'c']) })
  server.injectFault({ match: { path: '/api/v2/flags/web/b/release' }, status: 500, times: 1 })
  const progress = []
  const results = await client(server).completePhases(
    [
      { projectKey: 'web', flagKey: 'missing', phase: 0 },
      { projectKey: 'web', flagKey: 'a', phase: 0 },
      { projectKey: 'web', flagKey: 'b', phase: 1 },
      { projectKey: 'web', flagKey: 'c', phase: 2 },
    ],
    { concurrency: 1, onProgress: (done, total) => progress.push([done, total]) },
  )
  assert.deepEqual(
    results.map((r) => (r.ok ? 'ok' : r.error.code)),
    ['ERR_LD_NOT_FOUND', 'ok', 'ERR_LD_SERVER', 'ok'],
  )
  assert.equal(results[1].release.phases[0].complete, true)
  assert.equal(results[3].release.phases[2].complete, true)
  assert.equal(server.getRelease('web', 'a').phases[0].complete, true)
  assert.equal(server.getRelease('web', 'b').phases[1].complete, false)
  assert.equal(server.getRelease('web', 'c').phases[2].complete, true)
  // One worker: the items went one after another, in order, each once.
  assert.deepEqual(
    server.requests.map((r) => r.path.split('/')[5]),
    ['missing', 'a', 'b', 'c'],
  )
  await sleep(20) // progress calls are delivered through the event loop
  assert.deepEqual(progress, [[1, 4], [2, 4], [3, 4], [4, 4]])
})

test('results are in input order, not completion order: an early item that finishes last stays first', async (t) => {
  const keys = flags(5)
  // Each flag's release has its own name, so results can be told apart.
  const server = await fake(t, {
    releases: keys.map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease({ name: `release of ${flagKey}` }) })),
  })
  // flag-0 answers last and flag-1 next to last; the others at once.
  server.injectFault({ match: { path: '/api/v2/flags/web/flag-0/release' }, delayMs: 400 })
  server.injectFault({ match: { path: '/api/v2/flags/web/flag-1/release' }, delayMs: 200 })
  const results = await client(server).completePhases(
    keys.map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 })),
    { concurrency: keys.length },
  )
  // Each flag: its release read and its PATCH; the pipeline is read once for all.
  assert.equal(server.requests.length, 2 * keys.length + 1)
  assert.equal(server.requests.filter((r) => r.method === 'PATCH').length, keys.length)
  // Answered in the order 2, 3, 4, 1, 0: every result is still at its item's place.
  assert.deepEqual(
    results.map((r) => (r.ok ? r.release.name : r.error.message)),
    keys.map((flagKey) => `release of ${flagKey}`),
  )
})

test('bad arguments reject the whole call and send nothing', async (t) => {
  const server = await fake(t)
  const c = client(server)
  for (const [items, options, pattern] of [
    [{}, undefined, /^items must be an array/],
    [[], { concurrency: 0 }, /^options\.concurrency must be an integer from 1 to 256/],
    [[], { onProgress: 'yes' }, /^options\.onProgress must be a function/],
  ]) {
    await assert.rejects(c.completePhases(items, options), (err) => {
      assert.equal(err.code, 'ERR_LD_INVALID_ARGUMENT')
      assert.match(err.message, pattern)
      return true
    })
  }
  assert.equal(server.requests.length, 0)
})

test('module-level completePhases uses the options and the environment', async (t) => {
  const server = await fake(t, { releases: seeded(['a', 'b']) })
  const results = await ld.completePhases(
    [
      { projectKey: 'web', flagKey: 'a', phase: 0 },
      { projectKey: 'web', flagKey: 'b', phase: 0 },
    ],
    { apiKey: TOKEN, baseUrl: server.url, concurrency: 1 },
  )
  assert.deepEqual(results.map((r) => r.ok), [true, true])
  // a: its release, the pipeline, the PATCH; b: its release and the PATCH.
  assert.equal(server.requests.length, 5)
})

test('aborting a bulk run rejects at once and sends nothing more', async (t) => {
  const keys = flags(40)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ delayMs: 300, times: 40 })
  const controller = new AbortController()
  const run = client(server).completePhases(
    keys.map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 })),
    { concurrency: 4, signal: controller.signal },
  )
  await sleep(100)
  const sentBefore = server.requests.length
  const abortedAt = performance.now()
  controller.abort()
  await assert.rejects(run, (err) => {
    assert.equal(err.name, 'AbortError')
    assert.equal(err.code, 'ABORT_ERR')
    return true
  })
  const took = performance.now() - abortedAt
  assert.ok(took < 50, `rejected ${took.toFixed(1)} ms after the abort`)
  await sleep(400)
  assert.equal(server.requests.length, sentBefore, 'nothing was sent after the abort')
  assert.equal(sentBefore, 4)
})

test('a request waiting in the rate-limit gate is cancelled by its signal', async (t) => {
  const server = await fake(t, { rateLimit: { limit: 1, windowMs: 10_000 } })
  const c = client(server)
  await c.getRelease('web', 'checkout') // spends the window's budget
  const controller = new AbortController()
  const waiting = c.getRelease('web', 'checkout', { signal: controller.signal })
  await sleep(100)
  const abortedAt = performance.now()
  controller.abort()
  await assert.rejects(waiting, { name: 'AbortError', code: 'ABORT_ERR' })
  assert.ok(performance.now() - abortedAt < 50)
  assert.equal(server.requests.length, 1, 'the second request never left the gate')
  assert.equal(server.rateLimited, 0)
})

test('a body that trickles slower than the timeout ends with ERR_LD_TIMEOUT', async (t) => {
  const server = await fake(t)
  server.injectFault({ trickleMs: 100 })
  await assert.rejects(client(server, { timeoutMs: 400 }).getRelease('web', 'checkout'), (err) => {
    assert.equal(err.code, 'ERR_LD_TIMEOUT')
    assert.equal(err.attempts, 1)
    return true
  })
  assert.equal(server.requests.length, 1)
})
