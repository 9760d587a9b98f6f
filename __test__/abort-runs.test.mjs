// An aborted run (completePhases, advancePipeline) says what it did: it rejects with an
// AbortError whose `results` hold one result per item, as a resolved run gives them,
// the items the abort cut short marked `aborted: 'not-sent'` (nothing written) or
// `aborted: 'unknown'` (its write was in flight: applied or not). Against the fake, over
// loopback, through the addon; the writes the server received are counted.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import { client, fake, ld, sampleRelease, sleep } from './helpers.mjs'

const flags = (n) => Array.from({ length: n }, (_, i) => `f${i}`)
const seeded = (keys) => keys.map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() }))
const items = (keys, phase = 0) => keys.map((flagKey) => ({ projectKey: 'web', flagKey, phase }))

/** Each result as `ok`, `not-sent`, `unknown` or its error's code. */
const kinds = (results) => results.map((r) => (r.ok ? 'ok' : (r.aborted ?? r.error.code)))

/** The requests `server` received with `method` for flag `flagKey` (any flag when omitted). */
const sent = (server, method, flagKey) => server.requests.filter((r) => r.method === method && (flagKey === undefined || r.path.includes(`/${flagKey}/`)))

/** Waits until `server` has received a `method` request for `flagKey`. */
async function until(server, method, flagKey) {
  for (let i = 0; i < 2000 && sent(server, method, flagKey).length === 0; i++) await sleep(5)
  assert.equal(sent(server, method, flagKey).length, 1, `${method} ${flagKey} arrived: ${server.requests.map((r) => `${r.method} ${r.path}`).join(', ')}`)
}

/** What `promise` rejected with; fails if it resolved. */
async function rejection(promise) {
  const settled = await promise.then(
    (value) => ({ value }),
    (error) => ({ error }),
  )
  assert.ok('error' in settled, `expected a rejection, got ${JSON.stringify(settled.value)}`)
  return settled.error
}

/** Asserts `error` is the AbortError of an aborted run caused by `reason`, and returns its results. */
function runAborted(error, reason) {
  assert.equal(error.name, 'AbortError')
  assert.equal(error.code, 'ABORT_ERR')
  assert.ok(Object.is(error.cause, reason), 'the cause is the reason')
  assert.equal(ld.isLaunchDarklyError(error), false)
  assert.ok(Array.isArray(error.results), 'results is an array')
  return error.results
}

test('completePhases aborted part way: written items keep their releases, the write in flight is unknown, the rest were not sent', async (t) => {
  const keys = flags(8)
  const server = await fake(t, { releases: seeded(keys) })
  // f3's PATCH is answered (and applied) only after 1.5 s: the abort comes while it is in flight.
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f3/release' }, delayMs: 1500 })
  const controller = new AbortController()
  const running = client(server).completePhases(items(keys), { concurrency: 1, signal: controller.signal })
  await until(server, 'PATCH', 'f3')
  const reason = new Error('stop now')
  controller.abort(reason)
  const results = runAborted(await rejection(running), reason)

  assert.deepEqual(kinds(results), ['ok', 'ok', 'ok', 'unknown', 'not-sent', 'not-sent', 'not-sent', 'not-sent'])
  for (const [i, r] of results.entries()) {
    if (r.ok) {
      // The release the write answered, as a resolved run gives it.
      assert.equal(r.release.phases[0].complete, true)
      assert.deepEqual(Object.keys(r), ['ok', 'release'])
    } else {
      assert.deepEqual(Object.keys(r), ['ok', 'aborted'], `item ${i} carries no error: it did not fail`)
    }
  }
  // The server received exactly the writes the results account for: three answered,
  // one in flight, none for the items not sent (then or later).
  assert.equal(sent(server, 'PATCH').length, 4)
  await sleep(1700)
  assert.equal(sent(server, 'PATCH').length, 4)
  for (const key of keys.slice(4)) assert.equal(server.requests.filter((r) => r.path.includes(`/${key}/`)).length, 0, `nothing sent for ${key}`)
  // (The fake drops a write whose client went away; a server need not: 'unknown' claims
  // neither.) The items not sent are as they were.
  for (const key of keys.slice(4)) assert.equal(server.getRelease('web', key).phases[0].complete, false)
})

test('the message of an aborted run counts what became of its items', async (t) => {
  const keys = flags(4)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f2/release' }, delayMs: 1000 })
  const controller = new AbortController()
  const running = client(server).completePhases([...items(keys), { projectKey: 'web', flagKey: 'missing', phase: 0 }], { concurrency: 1, signal: controller.signal })
  await until(server, 'PATCH', 'f2')
  controller.abort()
  const error = await rejection(running)
  assert.deepEqual(kinds(error.results), ['ok', 'ok', 'unknown', 'not-sent', 'not-sent'])
  assert.equal(
    error.message,
    'The operation was aborted: of 5 items, 2 were done, 1 was in flight when the abort came (applied or not: read the release to know) and 2 were not sent. The results property holds each item\'s result',
  )
})

test('the message of an aborted run counts the items that failed before the abort apart', async (t) => {
  const keys = flags(3)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f1/release' }, delayMs: 1000 })
  const controller = new AbortController()
  const list = [items(keys)[0], { projectKey: 'web', flagKey: 'missing', phase: 0 }, ...items(keys).slice(1)]
  const running = client(server).completePhases(list, { concurrency: 1, signal: controller.signal })
  await until(server, 'PATCH', 'f1')
  controller.abort()
  const error = await rejection(running)
  assert.deepEqual(kinds(error.results), ['ok', 'ERR_LD_NOT_FOUND', 'unknown', 'not-sent'])
  assert.equal(
    error.message,
    "The operation was aborted: of 4 items, 1 was done, 1 failed, 1 was in flight when the abort came (applied or not: read the release to know) and 1 was not sent. The results property holds each item's result",
  )
})

test('an item aborted while it reads its release was not sent: no write left for it', async (t) => {
  const keys = flags(3)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'GET', path: '/api/v2/flags/web/f1/release' }, delayMs: 1500 })
  const controller = new AbortController()
  const running = client(server).completePhases(items(keys), { concurrency: 1, signal: controller.signal })
  await until(server, 'GET', 'f1')
  controller.abort('enough')
  const error = await rejection(running)
  const results = runAborted(error, 'enough')
  assert.deepEqual(kinds(results), ['ok', 'not-sent', 'not-sent'])
  // Nothing was in flight, nothing failed: the message says only what there was.
  assert.equal(error.message, "The operation was aborted: of 3 items, 1 was done and 2 were not sent. The results property holds each item's result")
  await sleep(1700)
  assert.deepEqual(sent(server, 'PATCH').map((r) => r.path), ['/api/v2/flags/web/f0/release'])
  assert.equal(server.getRelease('web', 'f1').phases[0].complete, false)
})

test('completePhases with an already-aborted signal sends nothing: every item not sent, bad items keep their errors', async (t) => {
  const keys = flags(3)
  const server = await fake(t, { releases: seeded(keys) })
  const controller = new AbortController()
  const reason = Symbol('before')
  controller.abort(reason)
  const error = await rejection(client(server).completePhases([...items(keys), { projectKey: 'web', flagKey: '', phase: 0 }], { signal: controller.signal }))
  const results = runAborted(error, reason)
  assert.deepEqual(kinds(results), ['not-sent', 'not-sent', 'not-sent', 'ERR_LD_INVALID_ARGUMENT'])
  assert.match(results[3].error.message, /^items\[3\]\.flagKey/)
  await sleep(50)
  assert.equal(server.requests.length, 0)
})

test('an aborted dry run of completePhases keeps the plans it made', async (t) => {
  const keys = flags(3)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'GET', path: '/api/v2/flags/web/f1/release' }, delayMs: 1500 })
  const controller = new AbortController()
  const running = client(server).completePhases(items(keys), { concurrency: 1, dryRun: true, signal: controller.signal })
  await until(server, 'GET', 'f1')
  controller.abort()
  const results = (await rejection(running)).results
  assert.deepEqual(kinds(results), ['ok', 'not-sent', 'not-sent'])
  assert.equal(results[0].dryRun, true)
  assert.equal(results[0].request.method, 'PATCH')
  assert.equal(sent(server, 'PATCH').length, 0)
})

test('advancePipeline aborted while it writes: each listed flag written, in flight or not sent, by key', async (t) => {
  const keys = flags(6)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/f2/release' }, delayMs: 1500 })
  const controller = new AbortController()
  const running = client(server).advancePipeline('web', 'standard-rollout', { name: 'Testing' }, { concurrency: 1, signal: controller.signal })
  await until(server, 'PATCH', 'f2')
  controller.abort(42)
  const results = runAborted(await rejection(running), 42)
  assert.deepEqual(
    results.map((r) => [r.flagKey, r.ok ? 'ok' : (r.aborted ?? r.error.code)]),
    [
      ['f0', 'ok'],
      ['f1', 'ok'],
      ['f2', 'unknown'],
      ['f3', 'not-sent'],
      ['f4', 'not-sent'],
      ['f5', 'not-sent'],
    ],
  )
  assert.equal(results[0].release.phases[0].complete, true)
  assert.deepEqual(Object.keys(results[3]), ['flagKey', 'ok', 'aborted'])
  await sleep(1700)
  assert.deepEqual(
    sent(server, 'PATCH').map((r) => r.path.split('/')[5]),
    ['f0', 'f1', 'f2'],
  )
})

test('advancePipeline aborted while it lists its flags rejects with empty results: nothing was written', async (t) => {
  const keys = flags(3)
  const server = await fake(t, { releases: seeded(keys) })
  server.injectFault({ match: { method: 'GET', path: '/api/v2/projects/web/release-pipelines/standard-rollout/releases' }, delayMs: 1500 })
  const controller = new AbortController()
  const running = client(server).advancePipeline('web', 'standard-rollout', 0, { signal: controller.signal })
  for (let i = 0; i < 2000 && !server.requests.some((r) => r.path.split('?')[0].endsWith('/releases')); i++) await sleep(5)
  controller.abort('early')
  const error = await rejection(running)
  assert.deepEqual(runAborted(error, 'early'), [])
  assert.equal(error.message, 'The operation was aborted before any write was sent: nothing was written')
  await sleep(1700)
  assert.equal(sent(server, 'PATCH').length, 0)
})

test('advancePipeline with an already-aborted signal sends nothing and rejects with empty results', async (t) => {
  const server = await fake(t, { releases: seeded(flags(2)) })
  const controller = new AbortController()
  controller.abort(null)
  const error = await rejection(client(server).advancePipeline('web', 'standard-rollout', 0, { signal: controller.signal }))
  assert.deepEqual(runAborted(error, null), [])
  await sleep(50)
  assert.equal(server.requests.length, 0)
})
