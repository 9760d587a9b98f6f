// Retries: which answers are retried, and how long the client waits before it retries.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'

import { client, expectLdError, fake, ld } from './helpers.mjs'

const PATH = '/api/v2/flags/web/checkout/release'

/** Runs `fn` and returns [its result, elapsed ms]. */
async function timed(fn) {
  const started = performance.now()
  const result = await fn()
  return [result, performance.now() - started]
}

function assertSameRequestTwice(server) {
  assert.equal(server.requests.length, 2)
  for (const request of server.requests) {
    assert.equal(request.method, 'PATCH')
    assert.equal(request.path, PATH)
    assert.equal(request.body, '[{"op":"replace","path":"/phases/0/complete","value":true}]')
    assert.equal(request.headers['ld-api-version'], 'beta')
  }
}

// Each test has its own fake and client (and so its own rate-limit gate): they run
// concurrently, and every timing assertion is a lower bound or a generous upper one.
describe('retries', { concurrency: true }, () => {
  test('a 503 then success: the call succeeds on the second attempt after a backoff', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, status: 503, body: 'upstream unavailable', contentType: 'text/plain' })
    const [release, elapsed] = await timed(() => client(server, { maxRetries: 3 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)))
    assert.equal(release.phases[0].complete, true)
    assertSameRequestTwice(server)
    assert.ok(elapsed >= 250, `backed off 250 ms at least, took ${elapsed}`)
  })

  for (const status of [500, 502, 504]) {
    test(`a ${status} is retried`, async (t) => {
      const server = await fake(t)
      server.injectFault({ times: 1, status })
      const release = await client(server, { maxRetries: 1 }).patchRelease('web', 'checkout', ld.phasePatch(0, true))
      assert.equal(release.phases[0].complete, true)
      assertSameRequestTwice(server)
    })
  }

  test('429 with Retry-After in seconds waits that long', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, status: 429, headers: { 'Retry-After': '1' }, body: { code: 'rate_limited', message: 'slow' } })
    const [release, elapsed] = await timed(() => client(server, { maxRetries: 2 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)))
    assert.equal(release.phases[0].complete, true)
    assertSameRequestTwice(server)
    assert.ok(elapsed >= 1000, `waited ${elapsed} ms`)
  })

  test('429 with Retry-After as an HTTP date waits until that date', async (t) => {
    const server = await fake(t)
    // A whole second (HTTP dates have no milliseconds) between 1 and 2 s from now.
    const target = Math.ceil((Date.now() + 1000) / 1000) * 1000
    server.injectFault({ times: 1, status: 429, headers: { 'Retry-After': new Date(target).toUTCString() } })
    const release = await client(server, { maxRetries: 2 }).patchRelease('web', 'checkout', ld.phasePatch(0, true))
    assert.equal(release.phases[0].complete, true)
    assertSameRequestTwice(server)
    assert.ok(Date.now() >= target - 5, `retried ${target - Date.now()} ms before the advised date`)
  })

  test('429 with X-Ratelimit-Reset (epoch milliseconds) waits until the reset', async (t) => {
    const server = await fake(t)
    const reset = Date.now() + 700
    server.injectFault({
      times: 1,
      status: 429,
      headers: { 'X-Ratelimit-Reset': String(reset), 'X-Ratelimit-Route-Remaining': '0', 'Retry-After': '5' },
    })
    const [release, elapsed] = await timed(() => client(server, { maxRetries: 2 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)))
    assert.equal(release.phases[0].complete, true)
    assertSameRequestTwice(server)
    assert.ok(Date.now() >= reset - 5, `retried ${reset - Date.now()} ms before the reset`)
    // X-Ratelimit-Reset takes precedence over Retry-After.
    assert.ok(elapsed < 4000, `followed X-Ratelimit-Reset, not Retry-After: ${elapsed} ms`)
  })

  test('429 with Retry-After: 0 (or a date already past) is retried at once, not after the default backoff', async (t) => {
    // The default backoff sleeps 250 ms at least: a retry that follows the server's
    // advice of no wait comes well before that, and one that ignores it never does.
    const gap = (server) => server.requests[1].receivedAt - server.requests[0].receivedAt
    const backoff = await fake(t)
    backoff.injectFault({ times: 1, status: 429 })
    await client(backoff, { maxRetries: 1 }).patchRelease('web', 'checkout', ld.phasePatch(0, true))
    assert.ok(gap(backoff) >= 250, `without advice the retry waited the default backoff: ${gap(backoff)} ms`)
    for (const retryAfter of ['0', new Date(Date.now() - 5000).toUTCString()]) {
      const server = await fake(t)
      server.injectFault({ times: 1, status: 429, headers: { 'Retry-After': retryAfter } })
      const release = await client(server, { maxRetries: 1 }).patchRelease('web', 'checkout', ld.phasePatch(0, true))
      assert.equal(release.phases[0].complete, true)
      assertSameRequestTwice(server)
      assert.ok(gap(server) < 250, `Retry-After: ${retryAfter} was retried ${gap(server)} ms later (the default backoff took ${gap(backoff)} ms)`)
    }
  })

  test('429 with no header falls back to exponential backoff', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 2, status: 429 })
    const [release, elapsed] = await timed(() => client(server, { maxRetries: 3 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)))
    assert.equal(release.phases[0].complete, true)
    assert.equal(server.requests.length, 3)
    assert.ok(elapsed >= 250 + 500, `backed off 250 then 500 ms at least, took ${elapsed}`)
  })

  test('the token’s own limit: the client waits for its window, across routes, instead of collecting 429s', async (t) => {
    const server = await fake(t, { rateLimit: { limit: 100, windowMs: 300, tokenLimit: 2, tokenWindowMs: 1500 } })
    const c = client(server, { maxRetries: 3 })
    const [, elapsed] = await timed(async () => {
      await c.getRelease('web', 'checkout')
      await c.patchRelease('web', 'checkout', ld.phasePatch(0, true))
      // The token's budget is spent: this read (another route) waits for the token's reset.
      await c.getRelease('web', 'checkout')
    })
    assert.equal(server.rateLimited, 0, 'no 429: the gate waited')
    assert.equal(server.requests.length, 3)
    assert.ok(elapsed >= 1400, `waited for the token window: ${elapsed} ms`)
  })

  test('the fake’s rate limit: the client waits for the window instead of collecting 429s', async (t) => {
    const server = await fake(t, { rateLimit: { limit: 2, windowMs: 600 } })
    const c = client(server, { maxRetries: 3 })
    const [, elapsed] = await timed(async () => {
      for (let i = 0; i < 5; i++) await c.getRelease('web', 'checkout')
    })
    assert.equal(server.requests.length - server.rateLimited, 5, 'five answered requests')
    assert.ok(server.rateLimited <= 1, `at most one 429, got ${server.rateLimited}`)
    assert.ok(elapsed >= 600, `five requests at two per 600 ms window span more than one window: ${elapsed}`)
  })

  for (const status of [400, 401, 403, 404, 409, 422]) {
    test(`a ${status} is never retried`, async (t) => {
      const server = await fake(t)
      server.injectFault({ times: 5, status, body: { code: 'nope', message: `refused with ${status}` } })
      const codes = {
        400: 'ERR_LD_BAD_REQUEST',
        401: 'ERR_LD_UNAUTHORIZED',
        403: 'ERR_LD_FORBIDDEN',
        404: 'ERR_LD_NOT_FOUND',
        409: 'ERR_LD_CONFLICT',
        422: 'ERR_LD_BAD_REQUEST',
      }
      await expectLdError(() => client(server, { maxRetries: 5 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)), {
        code: codes[status],
        status,
        attempts: 1,
      })
      // One PATCH, never sent again.
      assert.deepEqual(
        server.requests.map((r) => r.method),
        ['PATCH'],
      )
    })
  }

  test('a connection dropped before the response is retried', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, drop: 'before-response' })
    const release = await client(server, { maxRetries: 2 }).patchRelease('web', 'checkout', ld.phasePatch(0, true))
    assert.equal(release.phases[0].complete, true)
    assertSameRequestTwice(server)
  })

  test('a connection dropped in the middle of the body is retried', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, drop: 'mid-body' })
    const release = await client(server, { maxRetries: 2 }).patchRelease('web', 'checkout', ld.phasePatch(0, true))
    assert.equal(release.phases[0].complete, true)
    assertSameRequestTwice(server)
  })

  test('a timed-out attempt is retried', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, delayMs: 1000 })
    const [release, elapsed] = await timed(() => client(server, { maxRetries: 2, timeoutMs: 200 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)))
    assert.equal(release.phases[0].complete, true)
    assert.equal(server.requests.length, 2)
    assert.ok(elapsed >= 200 + 250 && elapsed < 1800, `timed out, backed off and retried: ${elapsed} ms`)
  })

  test('maxRetries: 0 disables retries, on the client or per call', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, status: 503 })
    await expectLdError(() => client(server, { maxRetries: 0 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)), {
      code: 'ERR_LD_SERVER',
      status: 503,
      attempts: 1,
    })
    assert.equal(server.requests.length, 1)

    server.clearRequests()
    server.injectFault({ times: 1, status: 429, headers: { 'Retry-After': '0' } })
    await expectLdError(() => client(server, { maxRetries: 3 }).patchRelease('web', 'checkout', ld.phasePatch(0, true), { maxRetries: 0 }), {
      code: 'ERR_LD_RATE_LIMITED',
      status: 429,
      retryAfterMs: 0,
      attempts: 1,
    })
    assert.equal(server.requests.length, 1)

    server.clearRequests()
    server.injectFault({ times: 1, drop: 'before-response' })
    await expectLdError(() => client(server, { maxRetries: 0 }).getRelease('web', 'checkout'), {
      code: 'ERR_LD_NETWORK',
      attempts: 1,
    })
    assert.equal(server.requests.length, 1)
  })

  test('a per-call maxRetries overrides the client’s', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, status: 500 })
    await expectLdError(() => client(server, { maxRetries: 0 }).patchRelease('web', 'checkout', ld.phasePatch(0, true), { maxRetries: 2 }), {
      code: 'ERR_LD_SERVER',
      attempts: 3,
    })
    assert.equal(server.requests.length, 3)
  })

  test('the default is three retries', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 10, status: 429, headers: { 'Retry-After': '0' } })
    const error = await expectLdError(
      () => new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url }).patchRelease('web', 'checkout', ld.phasePatch(0, true)),
      { code: 'ERR_LD_RATE_LIMITED', attempts: 4 },
    )
    assert.equal(error.retryAfterMs, 0)
    assert.equal(server.requests.length, 4)
  })
})
