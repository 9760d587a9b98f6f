// What the client publishes on node:diagnostics_channel: one message per attempt, answer,
// retry and rate-limit wait, on the channels of the environment that made the call.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dc from 'node:diagnostics_channel'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { ADDON_PATH, TOKEN, assertNoSecretIn, client, fake, failure, ld, sampleRelease } from './helpers.mjs'

const NAMES = ['request', 'response', 'retry', 'wait']

/** Subscribes to `names` for the rest of the test; returns the [name, message] pairs received. */
function listen(t, names = NAMES) {
  const seen = []
  for (const name of names) {
    const handler = (message) => seen.push([name, message])
    dc.subscribe(`ld-release:${name}`, handler)
    t.after(() => dc.unsubscribe(`ld-release:${name}`, handler))
  }
  return seen
}

const pathOf = (message) => new URL(message.url).pathname
const sequence = (seen) => seen.map(([name, m]) => `${name} ${m.attempt}`)
const messages = (seen, name) => seen.filter(([n]) => n === name).map(([, m]) => m)

test('a 429 then a 200: request, response, retry, request, response, all before the call resolves', async (t) => {
  const server = await fake(t)
  server.injectFault({
    status: 429,
    headers: { 'Retry-After': '0', 'X-Ratelimit-Route-Remaining': '0', 'X-Ratelimit-Global-Remaining': '12' },
  })
  const seen = listen(t)
  const started = performance.now()
  const release = await client(server, { maxRetries: 1 }).getRelease('web', 'checkout')
  const wall = performance.now() - started
  assert.equal(release._version, 1)
  assert.deepEqual(sequence(seen), ['request 1', 'response 1', 'retry 1', 'request 2', 'response 2'])
  // Each answer's duration, in milliseconds, is within the call's.
  for (const answer of messages(seen, 'response')) assert.ok(answer.durationMs <= wall, `${answer.durationMs} ms of a ${wall} ms call`)
  for (const [, message] of seen) {
    assert.equal(message.operation, 'getRelease')
    assert.equal(message.method, 'GET')
    assert.equal(message.url, `${server.url}/api/v2/flags/web/checkout/release`)
  }
  assert.deepEqual(Object.keys(seen[0][1]).sort(), ['attempt', 'method', 'operation', 'url'])
  const [, limited] = seen[1]
  assert.equal(limited.status, 429)
  assert.equal(limited.error, undefined)
  assert.equal(limited.willRetry, true)
  assert.equal(typeof limited.durationMs, 'number')
  assert.ok(limited.durationMs > 0 && limited.durationMs < 30_000, `${limited.durationMs}`)
  assert.deepEqual(limited.rateLimit, { routeRemaining: 0, globalRemaining: 12, retryAfter: '0' })
  const [, retry] = seen[2]
  assert.equal(retry.reason, 'status')
  assert.equal(retry.status, 429)
  assert.equal(retry.source, 'Retry-After')
  assert.ok(retry.waitMs >= 0 && retry.waitMs <= 50, `Retry-After: 0 and its jitter: ${retry.waitMs}`)
  const [, ok] = seen[4]
  assert.equal(ok.status, 200)
  assert.equal(ok.willRetry, false)
  assert.deepEqual(ok.rateLimit, {})
})

test('each retry says where its wait came from: X-Ratelimit-Reset, then the backoff', async (t) => {
  const server = await fake(t)
  server.injectFault({ status: 503, headers: { 'X-Ratelimit-Reset': String(Date.now() + 300) } })
  server.injectFault({ status: 502 })
  const seen = listen(t, ['retry', 'response'])
  await client(server, { maxRetries: 2 }).getRelease('web', 'checkout')
  const retries = messages(seen, 'retry')
  assert.deepEqual(
    retries.map((r) => [r.attempt, r.reason, r.status, r.source]),
    [
      [1, 'status', 503, 'X-Ratelimit-Reset'],
      [2, 'status', 502, 'backoff'],
    ],
  )
  assert.ok(retries[0].waitMs <= 300 + 75, `${retries[0].waitMs}`)
  // The backoff of a second retry is 500 ms, plus at most a quarter of jitter.
  assert.ok(retries[1].waitMs >= 500 && retries[1].waitMs <= 625, `${retries[1].waitMs}`)
  assert.deepEqual(
    messages(seen, 'response').map((r) => [r.status, r.willRetry]),
    [
      [503, true],
      [502, true],
      [200, false],
    ],
  )
})

test('a timeout and a dropped connection: a response without a status, and a retry that names why', async (t) => {
  const server = await fake(t)
  server.injectFault({ stallMs: 5000 })
  const seen = listen(t)
  await client(server, { maxRetries: 1, timeoutMs: 300 }).getRelease('web', 'checkout')
  assert.deepEqual(sequence(seen), ['request 1', 'response 1', 'retry 1', 'request 2', 'response 2'])
  const [, timedOut] = seen[1]
  assert.equal(timedOut.status, undefined)
  assert.equal(timedOut.error, 'timeout')
  assert.equal(timedOut.willRetry, true)
  assert.ok(timedOut.durationMs >= 290, `${timedOut.durationMs}`)
  assert.deepEqual(timedOut.rateLimit, {})
  assert.deepEqual([seen[2][1].reason, seen[2][1].source, seen[2][1].status], ['timeout', 'backoff', undefined])

  server.injectFault({ drop: 'before-response' })
  seen.length = 0
  const error = await failure(() => client(server, { maxRetries: 0 }).deleteRelease('web', 'checkout'))
  assert.equal(error.code, 'ERR_LD_NETWORK')
  assert.deepEqual(sequence(seen), ['request 1', 'response 1'], 'no retry is left')
  assert.equal(seen[1][1].error, 'network')
  assert.equal(seen[1][1].willRetry, false)
  assert.equal(seen[1][1].operation, 'deleteRelease')
  assert.equal(seen[1][1].method, 'DELETE')
})

test("the rate-limit gate's waits: a spent window's budget, and a 429's pause", async (t) => {
  const server = await fake(t, { rateLimit: { limit: 1, windowMs: 1000 } })
  const seen = listen(t)
  const limited = client(server)
  await limited.getRelease('web', 'checkout')
  await limited.getRelease('web', 'checkout')
  assert.deepEqual(sequence(seen), ['request 1', 'response 1', 'wait 1', 'request 1', 'response 1'])
  assert.equal(seen[1][1].rateLimit.routeRemaining, 0)
  assert.ok(seen[1][1].rateLimit.reset > Date.now() - 5000)
  const [, wait] = seen[2]
  assert.equal(wait.reason, 'budget')
  assert.ok(wait.waitMs > 0 && wait.waitMs <= 1100, `${wait.waitMs}`)
  assert.equal(wait.operation, 'getRelease')
  assert.equal(seen[4][1].status, 200, 'held, not refused')

  // A 429 pauses every request of the client: a call started during the pause waits.
  const other = await fake(t)
  other.injectFault({ status: 429, headers: { 'Retry-After': '2' } })
  const paused = client(other, { maxRetries: 1 })
  seen.length = 0
  let second
  const onRetry = () => {
    dc.unsubscribe('ld-release:retry', onRetry)
    second ??= paused.getRelease('web', 'checkout')
  }
  dc.subscribe('ld-release:retry', onRetry)
  t.after(() => dc.unsubscribe('ld-release:retry', onRetry))
  await paused.getRelease('web', 'checkout')
  assert.ok(second, 'the second call started')
  await second
  const waits = messages(seen, 'wait')
  assert.equal(waits.length, 1, JSON.stringify(seen))
  assert.equal(waits[0].reason, 'paused')
  assert.ok(waits[0].waitMs > 0 && waits[0].waitMs <= 2100, `${waits[0].waitMs}`)
})

test('every request carries the name of the method called, also when a call makes several', async (t) => {
  const server = await fake(t, {
    releases: [
      { projectKey: 'web', flagKey: 'checkout', release: sampleRelease() },
      { projectKey: 'web', flagKey: 'old', release: sampleRelease() },
    ],
  })
  const seen = listen(t, ['request'])
  const c = client(server)
  const phaseId = sampleRelease().phases[1]._id
  const settle = (promise) => promise.catch(() => {})
  await c.getRelease('web', 'checkout')
  await c.patchRelease('web', 'checkout', ld.phasePatch(0, true))
  await c.reopenPhase('web', 'checkout', 0)
  await c.completePhase('web', 'checkout', 0)
  await c.completePhase('web', 'checkout', { name: 'Staging' })
  await settle(c.startPhase('web', 'checkout', { id: phaseId }))
  await settle(c.updatePhaseStatus('web', 'checkout', phaseId, { status: 'active' }))
  await c.deleteRelease('web', 'old')
  await settle(c.createRelease('web', 'old', { releasePipelineKey: 'standard-rollout' }))
  await c.completePhases([{ projectKey: 'web', flagKey: 'checkout', phase: 2 }])
  await ld.getRelease('web', 'checkout', { apiKey: server.apiKey, baseUrl: server.url })
  const flag = '/api/v2/flags/web/checkout/release'
  const project = '/api/v2/projects/web/flags'
  assert.deepEqual(
    seen.map(([, m]) => `${m.operation} ${m.method} ${pathOf(m)}`),
    [
      `getRelease GET ${flag}`,
      `patchRelease PATCH ${flag}`,
      // The release, its pipeline (the first time), then the PATCH.
      `reopenPhase GET ${flag}`,
      'reopenPhase GET /api/v2/projects/web/release-pipelines/standard-rollout',
      `reopenPhase PATCH ${flag}`,
      `completePhase GET ${flag}`,
      `completePhase PATCH ${flag}`,
      // By name: the release is read, then the guarded PATCH sent.
      `completePhase GET ${flag}`,
      `completePhase PATCH ${flag}`,
      `startPhase PUT ${project}/checkout/release/phases/${phaseId}`,
      `updatePhaseStatus PUT ${project}/checkout/release/phases/${phaseId}`,
      'deleteRelease DELETE /api/v2/flags/web/old/release',
      `createRelease PUT ${project}/old/release`,
      `completePhases GET ${flag}`,
      `completePhases PATCH ${flag}`,
      `getRelease GET ${flag}`,
    ],
  )
  assert.ok(seen.every(([, m]) => m.attempt === 1))
})

test('methodOverride: the method as sent, POST', async (t) => {
  const server = await fake(t)
  const seen = listen(t, ['request'])
  await client(server, { methodOverride: true }).completePhase('web', 'checkout', 0)
  assert.deepEqual(
    seen.map(([, m]) => [m.operation, m.method]),
    [
      ['completePhase', 'GET'],
      ['completePhase', 'GET'],
      ['completePhase', 'POST'],
    ],
  )
})

test('only subscribed channels publish, and only for calls started after the subscription', async (t) => {
  const server = await fake(t)
  server.injectFault({ status: 429, headers: { 'Retry-After': '0' } })
  const retries = listen(t, ['retry'])
  await client(server, { maxRetries: 1 }).getRelease('web', 'checkout')
  assert.deepEqual(
    retries.map(([name, m]) => [name, m.attempt]),
    [['retry', 1]],
  )
  assert.equal(dc.hasSubscribers('ld-release:request'), false)

  // A call that started with nobody listening publishes nothing, even once someone does.
  server.injectFault({ delayMs: 300 })
  const started = client(server).getRelease('web', 'checkout')
  const seen = listen(t)
  await started
  assert.deepEqual(seen, [])
  await client(server).getRelease('web', 'checkout')
  assert.deepEqual(sequence(seen), ['request 1', 'response 1'])
})

test('a subscriber may start a call of its own', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const seen = []
  let inner
  const handler = (message) => {
    seen.push(message.operation)
    inner ??= c.getRelease('web', 'checkout')
  }
  dc.subscribe('ld-release:request', handler)
  t.after(() => dc.unsubscribe('ld-release:request', handler))
  await c.patchRelease('web', 'checkout', ld.phasePatch(0, true))
  await inner
  assert.deepEqual(seen, ['patchRelease', 'getRelease'])
})

test('the token, or any 8 characters of it, is in no message', async (t) => {
  const server = await fake(t)
  server.injectFault({
    status: 429,
    headers: { 'Retry-After': `1 ${TOKEN}`, 'X-Ratelimit-Route-Remaining': TOKEN.slice(3, 14) },
  })
  const seen = listen(t)
  const error = await failure(() => client(server, { maxRetries: 1 }).getRelease('web', `x-${TOKEN}`))
  assert.equal(error.code, 'ERR_LD_NOT_FOUND')
  assert.deepEqual(sequence(seen), ['request 1', 'response 1', 'retry 1', 'request 2', 'response 2'])
  assert.match(seen[0][1].url, /\/flags\/web\/x-\*\*\*\*/)
  assert.match(seen[1][1].rateLimit.retryAfter, /^1 \*\*\*\*/)
  assertNoSecretIn(JSON.stringify(seen), 'the messages')
})

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads')
const dc = require('node:diagnostics_channel')
const ld = require(workerData.addon)
const seen = []
for (const name of ['request', 'response']) dc.subscribe('ld-release:' + name, (m) => seen.push(name + ' ' + m.operation))
new ld.ReleaseClient({ apiKey: workerData.apiKey, baseUrl: workerData.url })
  .getRelease('web', 'checkout')
  .then(() => parentPort.postMessage(seen), (e) => parentPort.postMessage(String(e)))
`

test("a worker's calls publish on that worker's channels, not the main thread's", async (t) => {
  const server = await fake(t)
  const seen = listen(t)
  const worker = new Worker(WORKER_CODE, { eval: true, workerData: { addon: ADDON_PATH, apiKey: server.apiKey, url: server.url } })
  t.after(() => worker.terminate())
  const [fromWorker] = await once(worker, 'message')
  assert.deepEqual(fromWorker, ['request getRelease', 'response getRelease'])
  assert.deepEqual(seen, [], 'nothing on the main thread')
  await client(server).getRelease('web', 'checkout')
  assert.deepEqual(sequence(seen), ['request 1', 'response 1'])
  assert.equal(server.requests.length, 2)
})

test('a subscriber that throws is reported as an uncaught exception, and the call goes on', async (t) => {
  const server = await fake(t)
  const code = `
    const dc = require('node:diagnostics_channel')
    const ld = require(${JSON.stringify(ADDON_PATH)})
    const thrown = []
    process.on('uncaughtException', (e) => thrown.push(e.message))
    dc.subscribe('ld-release:request', () => { throw new Error('subscriber failed') })
    new ld.ReleaseClient({ apiKey: ${JSON.stringify(server.apiKey)}, baseUrl: ${JSON.stringify(server.url)} })
      .getRelease('web', 'checkout')
      .then((r) => setTimeout(() => console.log(JSON.stringify({ version: r._version, thrown })), 10))
  `
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const [exit] = await once(child, 'close')
  clearTimeout(killer)
  assert.equal(exit, 0, stderr)
  assert.deepEqual(JSON.parse(stdout), { version: 1, thrown: ['subscriber failed'] })
})

test('a process that exits right after a call, subscribed or not, prints nothing more', async (t) => {
  const server = await fake(t)
  for (const subscribe of [false, true]) {
    const code = `
      const dc = require('node:diagnostics_channel')
      const ld = require(${JSON.stringify(ADDON_PATH)})
      if (${subscribe}) dc.subscribe('ld-release:response', () => {})
      new ld.ReleaseClient({ apiKey: ${JSON.stringify(server.apiKey)}, baseUrl: ${JSON.stringify(server.url)} })
        .getRelease('web', 'checkout')
        .then(() => process.exit(0))
    `
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] })
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const [exit] = await once(child, 'close')
    clearTimeout(killer)
    assert.equal(exit, 0)
    assert.equal(output, '', `subscribed: ${subscribe}`)
  }
})

test("a channel whose publish throws drops the event, never the call: the exception does not surface in the caller's code", async (t) => {
  const server = await fake(t, { releases: [{ projectKey: 'web', flagKey: 'new-checkout', release: sampleRelease() }] })
  const seen = listen(t, ['response'])
  const request = dc.channel('ld-release:request')
  // A hostile or broken program replaces the channel's publish with one that throws.
  request.publish = () => {
    throw new Error('publish is broken')
  }
  t.after(() => delete request.publish)
  const uncaught = []
  const onUncaught = (error) => uncaught.push(error)
  process.on('uncaughtException', onUncaught)
  t.after(() => process.off('uncaughtException', onUncaught))
  const active = () => {}
  dc.subscribe('ld-release:request', active)
  t.after(() => dc.unsubscribe('ld-release:request', active))
  const release = await client(server).getRelease('web', 'new-checkout')
  assert.equal(release.name, sampleRelease().name)
  // The next JavaScript runs as usual, and the other channels still publish.
  assert.equal(JSON.parse('[1]')[0], 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.deepEqual(uncaught, [])
  assert.equal(seen.length, 1, 'the response was published')
})
