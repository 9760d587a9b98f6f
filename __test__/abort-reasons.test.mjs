// Abort reasons of every type: an AbortSignal can be aborted with any value, and a call
// given one rejects with an AbortError whose `cause` is exactly that value. No call
// throws synchronously, and none is left pending, whatever the signal carries or does.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { describe, test } from 'node:test'

import { TOKEN, ld } from './helpers.mjs'

const REASONS = [
  ['a string', 'stop'],
  ['an empty string', ''],
  ['a number', 42],
  ['NaN', NaN],
  ['null', null],
  ['false', false],
  ['a Symbol', Symbol('stop')],
  ['a BigInt', 10n],
  ['a plain object', { why: 'stop' }],
  ['an Error', new Error('stop')],
  ['a function', () => 'stop'],
  // `abort(undefined)` makes the reason a DOMException named AbortError.
  ['undefined', undefined],
]

/** A server on 127.0.0.1 that never answers (until the test ends). */
async function silent(t) {
  const server = createServer(() => {})
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${server.address().port}`
}

/** The calls: promise calls (a dry run among them), list iterators' first pages, a watch's first read, and a bulk run. */
const CALLS = {
  getRelease: (c, signal) => c.getRelease('web', 'checkout', { signal }),
  'listReleasePipelines().next()': (c, signal) => c.listReleasePipelines('web', { signal }).next(),
  completePhases: (c, signal) => c.completePhases([{ projectKey: 'web', flagKey: 'a', phase: 0 }], { signal }),
  'completePhase dryRun': (c, signal) => c.completePhase('web', 'a', 0, { signal, dryRun: true }),
  getReleaseProgressionSummary: (c, signal) => c.getReleaseProgressionSummary('web', 'standard', { signal }),
  getFlag: (c, signal) => c.getFlag('web', 'a', { signal }),
  'listEnvironmentReleases().next()': (c, signal) => c.listEnvironmentReleases('web', 'a', 'production', { signal }).next(),
  'watchEnvironmentRelease().next()': (c, signal) => c.watchEnvironmentRelease('web', 'a', 'production', 'r1', { signal }).next(),
}

/** Calls `call` and asserts it returned a promise (no synchronous throw) that rejects with an AbortError caused by `reason`. */
async function assertAbortedWith(call, signal, what) {
  let promise
  assert.doesNotThrow(() => (promise = call(signal)), `${what} does not throw`)
  assert.ok(promise instanceof Promise, `${what} returns a promise`)
  const settled = await Promise.race([promise.then(() => 'resolved', (error) => error), new Promise((resolve) => setTimeout(() => resolve('pending'), 5000).unref())])
  assert.ok(settled instanceof Error, `${what} rejects (got ${String(settled)})`)
  assert.equal(settled.name, 'AbortError', what)
  assert.equal(settled.code, 'ABORT_ERR', what)
  assert.ok(Object.is(settled.cause, signal.reason), `${what}: the cause is the reason`)
  assert.equal(ld.isLaunchDarklyError(settled), false)
}

describe('an abort with a reason of any type rejects with an AbortError caused by it', { concurrency: true }, () => {
  for (const [name, call] of Object.entries(CALLS)) {
    test(`${name}: already aborted`, async (t) => {
      const url = await silent(t)
      const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: url, maxRetries: 0 })
      for (const [what, reason] of REASONS) {
        const controller = new AbortController()
        controller.abort(reason)
        await assertAbortedWith((signal) => call(c, signal), controller.signal, `${name} with ${what}`)
      }
    })

    test(`${name}: aborted during the call`, async (t) => {
      const url = await silent(t)
      const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: url, maxRetries: 0 })
      for (const [what, reason] of REASONS) {
        const controller = new AbortController()
        setTimeout(() => controller.abort(reason), 20)
        await assertAbortedWith((signal) => call(c, signal), controller.signal, `${name} with ${what}`)
      }
    })
  }

  test('a module-level function with an already-aborted signal rejects too', async () => {
    for (const [what, reason] of REASONS) {
      const controller = new AbortController()
      controller.abort(reason)
      await assertAbortedWith((signal) => ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: 'http://127.0.0.1:9', signal }), controller.signal, what)
    }
  })

  test("a signal whose own addEventListener throws makes the call reject, with what it threw as the cause", async (t) => {
    const url = await silent(t)
    const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: url, maxRetries: 0 })
    for (const thrown of ['nope', Symbol('nope'), null, new TypeError('nope')]) {
      for (const [name, call] of Object.entries(CALLS)) {
        const signal = new AbortController().signal
        let calls = 0
        // The check of the options reads the signal's shape; the call then listens.
        Object.defineProperty(signal, 'addEventListener', {
          get: () => (++calls > 1 ? () => { throw thrown } : AbortSignal.prototype.addEventListener),
        })
        let promise
        assert.doesNotThrow(() => (promise = call(c, signal)), name)
        const error = await promise.then(() => null, (e) => e)
        assert.ok(error, `${name} rejects`)
        assert.equal(error.code, 'ERR_LD_INVALID_ARGUMENT', `${name}: ${error.message}`)
        assert.match(error.message, /signal/)
        assert.ok(Object.is(error.cause, thrown), `${name}: the cause is what was thrown`)
      }
    }
  })
})

test("an AbortError is Node's, not a LaunchDarklyError: it has no `attempts`, whether a request was answered before the abort or none was sent", async (t) => {
  let received = 0
  // Every request is answered 503 with a wait of 5 s before the next attempt.
  const server = createServer((req, res) => {
    received++
    res.writeHead(503, { 'retry-after': '5', 'content-type': 'application/json' }).end('{"code":"service_unavailable","message":"later"}')
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: `http://127.0.0.1:${server.address().port}`, maxRetries: 2 })
  const controller = new AbortController()
  const running = c.getRelease('web', 'checkout', { signal: controller.signal })
  for (let i = 0; i < 1000 && received === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 100)) // the answer read, the wait begun
  controller.abort('stop')
  const waiting = await running.then(() => assert.fail('resolved'), (e) => e)
  assert.equal(waiting.name, 'AbortError')
  assert.equal('attempts' in waiting, false, 'aborted in the wait after an answer')
  assert.equal(received, 1)

  const early = await c.getRelease('web', 'checkout', { signal: AbortSignal.abort('stop') }).then(() => assert.fail('resolved'), (e) => e)
  assert.equal(early.name, 'AbortError')
  assert.equal('attempts' in early, false, 'nothing was sent')
  assert.equal(received, 1)
})
