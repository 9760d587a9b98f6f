// Every row of the error table, provoked for real over loopback HTTP, and aborts.
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { describe, test } from 'node:test'
import { inspect } from 'node:util'

import {
  TOKEN,
  assertLdError,
  assertNoSecret,
  assertNoSecretIn,
  client,
  deadPort,
  expectLdError,
  failure,
  fake,
  ld,
  sampleRelease,
  setEnv,
  sleep,
} from './helpers.mjs'

const INVALID = 'ERR_LD_INVALID_ARGUMENT'

/** Waits a moment, then asserts the fake received nothing. */
async function assertNothingSent(server) {
  await sleep(30)
  assert.equal(server.requests.length, 0, `nothing may be sent, got ${JSON.stringify(server.requests.map((r) => r.path))}`)
}

// Validation failures: nothing is sent. Sequential: some of these tests change process.env.
describe('before any request', () => {
  test('ERR_LD_INVALID_ARGUMENT: empty or non-string keys, on every call form', async (t) => {
    const server = await fake(t)
    const c = client(server)
    const options = { apiKey: TOKEN, baseUrl: server.url }
    const badKeys = ['', 42, null, undefined, {}, ['web'], true, '.', '..', 'a\nb']
    for (const bad of badKeys) {
      const forms = [
        () => c.completePhase(bad, 'checkout', 0),
        () => c.completePhase('web', bad, 0),
        () => c.reopenPhase(bad, 'checkout', 0),
        () => c.patchRelease('web', bad, ld.phasePatch(0, true)),
        () => c.getRelease(bad, 'checkout'),
        () => c.getRelease('web', bad),
        () => ld.completePhase(bad, 'checkout', 0, options),
        () => ld.reopenPhase('web', bad, 0, options),
        () => ld.patchRelease(bad, 'checkout', ld.phasePatch(0, true), options),
        () => ld.getRelease('web', bad, options),
      ]
      for (const call of forms) {
        const error = await expectLdError(call, { code: INVALID, attempts: 0, status: undefined })
        assert.match(error.message, /projectKey|flagKey/)
      }
    }
    await assertNothingSent(server)
  })

  test('ERR_LD_INVALID_ARGUMENT: a misspelt or misplaced option is refused, never ignored', async (t) => {
    const server = await fake(t)
    const good = { apiKey: TOKEN, baseUrl: server.url }
    // The constructor throws at once.
    assert.throws(() => new ld.ReleaseClient({ ...good, baseUri: 'https://elsewhere.example' }), {
      name: 'LaunchDarklyError',
      code: INVALID,
      message: /^options\.baseUri is not an option \(did you mean baseUrl\?\); the options here are apiKey, baseUrl, /,
    })
    assert.throws(() => new ld.ReleaseClient({ ...good, signal: new AbortController().signal }), {
      code: INVALID,
      message: 'options.signal is an option of each call, not of the client',
    })
    const c = client(server)
    const cases = [
      [() => c.completePhase('web', 'checkout', 0, { timeoutMS: 5 }), /^options\.timeoutMS is not an option \(did you mean timeoutMs\?\)/],
      [() => c.getRelease('web', 'checkout', { baseUrl: 'http://127.0.0.1:1' }), /^options\.baseUrl is a client option: give it to new ReleaseClient\(\), not to a call$/],
      [() => c.completePhase('web', 'checkout', 0, { concurrency: 2 }), /^options\.concurrency is an option of completePhases and advancePipeline only$/],
      [() => c.completePhases([{ projectKey: 'web', flagKey: 'checkout', phase: 0 }], { concurency: 2 }), /^options\.concurency is not an option \(did you mean concurrency\?\)/],
      [() => ld.completePhase('web', 'checkout', 0, { ...good, baseURL: server.url }), /^options\.baseURL is not an option \(did you mean baseUrl\?\)/],
      [() => ld.reopenPhase('web', 'checkout', 0, { ...good, retries: 0 }), /^options\.retries is not an option; the options here are /],
      [() => ld.completePhases([{ projectKey: 'web', flagKey: 'checkout', phase: 0 }], { ...good, onprogress: () => {} }), /\(did you mean onProgress\?\)/],
    ]
    for (const [call, message] of cases) {
      const error = await expectLdError(call, { code: INVALID, attempts: 0 })
      assert.match(error.message, message)
    }
    await assertNothingSent(server)
    // Every option spelt right still works, with completePhases' own.
    const results = await ld.completePhases([{ projectKey: 'web', flagKey: 'checkout', phase: 0 }], {
      ...good,
      timeoutMs: 5000,
      maxRetries: 0,
      userAgent: 'ci/1',
      methodOverride: false,
      signal: new AbortController().signal,
      concurrency: 1,
      onProgress: () => {},
      dryRun: false,
    })
    assert.equal(results[0].ok, true)
    assert.deepEqual(
      server.requests.map((r) => r.method),
      ['GET', 'GET', 'PATCH'],
    )
  })

  test('ERR_LD_INVALID_ARGUMENT: did-you-mean reaches exactly the distance limit, and no further', async (t) => {
    // The limit is two edits, or a quarter of the option's length when that is more:
    // baseUrl (7 characters) takes two, methodOverride (14) three.
    const server = await fake(t)
    const good = { apiKey: TOKEN, baseUrl: server.url }
    const cases = [
      ['bxseUrx', 'baseUrl'],
      ['bxsxUrx', undefined],
      ['mxthodOvxrridx', 'methodOverride'],
      ['mxthxdOvxrridx', undefined],
    ]
    for (const [name, near] of cases) {
      const hint = near ? ` \\(did you mean ${near}\\?\\)` : ''
      assert.throws(() => new ld.ReleaseClient({ ...good, [name]: true }), {
        code: INVALID,
        message: new RegExp(`^options\\.${name} is not an option${hint}; the options here are apiKey, `),
      })
    }
    // Call options: timeoutMs (9 characters) takes two edits, no more.
    const c = client(server)
    for (const [name, near] of [['tixeoutMx', 'timeoutMs'], ['tixeoxtMx', undefined]]) {
      const error = await expectLdError(() => c.getRelease('web', 'checkout', { [name]: 1 }), { code: INVALID, attempts: 0 })
      assert.match(error.message, new RegExp(`^options\\.${name} is not an option${near ? ` \\(did you mean ${near}\\?\\)` : ''}; `))
    }
    await assertNothingSent(server)
  })

  test('ERR_LD_INVALID_ARGUMENT: phases that are not integers in 0..=4294967295 (no silent wrap)', async (t) => {
    const server = await fake(t)
    const c = client(server)
    const badPhases = [-1, 1.5, NaN, 4294967296, '1', Infinity, -Infinity, -0.5, 2 ** 53, null, undefined, 1n, {}]
    for (const phase of badPhases) {
      for (const call of [
        () => c.completePhase('web', 'checkout', phase),
        () => c.reopenPhase('web', 'checkout', phase),
        () => ld.completePhase('web', 'checkout', phase, { apiKey: TOKEN, baseUrl: server.url }),
        () => ld.phasePatch(phase, true),
      ]) {
        const error = await expectLdError(call, { code: INVALID, attempts: 0 })
        assert.match(error.message, /^phase must be/)
      }
    }
    // phasePatch throws synchronously.
    assert.throws(() => ld.phasePatch(-1, true), { name: 'LaunchDarklyError', code: INVALID })
    assert.throws(() => ld.phasePatch(0, 'yes'), { name: 'LaunchDarklyError', code: INVALID })
    await assertNothingSent(server)

    // The largest phase is a phase the release (3 phases) does not have: refused after
    // the release is read, before any write; with the pipeline read first, as for the
    // CLI's `complete … 7`.
    for (const call of [
      () => c.completePhase('web', 'checkout', 4294967295),
      () => c.reopenPhase('web', 'checkout', 7),
      () => c.startPhase('web', 'checkout', 3),
      () => c.completePhase('web', 'checkout', 3, { dryRun: true }),
    ]) {
      server.clearRequests()
      const error = await expectLdError(call, { code: INVALID, status: undefined })
      assert.match(error.message, /^phase \d+ does not exist: the release has 3 phases$/)
      assert.deepEqual(
        server.requests.map((r) => r.method),
        ['GET'],
      )
    }
  })

  test('ERR_LD_INVALID_ARGUMENT: every kind of malformed patch', async (t) => {
    const server = await fake(t)
    const c = client(server)
    const cases = [
      [undefined, /^patch must be an array/],
      [{}, /^patch must be an array/],
      ['[]', /^patch must be an array/],
      [[], /^patch must hold at least one/],
      [[1], /^patch\[0\] must be an object/],
      [[null], /^patch\[0\] must be an object/],
      [[{ path: '/phases/0/complete', value: true }], /^patch\[0\]\.op is required/],
      [[{ op: 'replace', value: true }], /^patch\[0\]\.path is required/],
      [[{ op: 'replace', path: '/phases/0/complete' }], /^patch\[0\]\.value is required/],
      [[{ op: 'add', path: '/x' }], /^patch\[0\]\.value is required/],
      [[{ op: 'test', path: '/_version' }], /^patch\[0\]\.value is required/],
      [[{ op: 'merge', path: '/x', value: 1 }], /^patch\[0\]\.op must be one of/],
      [[{ op: 'REPLACE', path: '/x', value: 1 }], /^patch\[0\]\.op must be one of/],
      [[{ op: 'move', path: '/x' }], /^patch\[0\]\.from is required/],
      [[{ op: 'copy', path: '/x', from: 'y' }], /^patch\[0\]\.from must be a JSON Pointer/],
      [[{ op: 'replace', path: 'phases/0/complete', value: true }], /^patch\[0\]\.path must be a JSON Pointer/],
      [[{ op: 'remove', path: '/a~2b' }], /^patch\[0\]\.path has '~'/],
      [[{ op: 1, path: '/x' }], /^patch\[0\]\.op must be a string/],
      [[{ op: 'replace', path: 7, value: 1 }], /^patch\[0\]\.path must be a string/],
      [
        [
          { op: 'remove', path: '/a' },
          { op: 'remove', path: '/b', extra: 1 },
        ],
        /^patch\[1\] has an unknown member "extra"/,
      ],
    ]
    for (const [patch, message] of cases) {
      for (const call of [
        () => c.patchRelease('web', 'checkout', patch),
        () => ld.patchRelease('web', 'checkout', patch, { apiKey: TOKEN, baseUrl: server.url }),
      ]) {
        const error = await expectLdError(call, { code: INVALID, attempts: 0 })
        assert.match(error.message, message, JSON.stringify(patch))
      }
    }
    await assertNothingSent(server)
  })

  test('ERR_LD_INVALID_ARGUMENT: bad option values', async (t) => {
    const server = await fake(t)
    const base = { apiKey: TOKEN, baseUrl: server.url }
    const badClientOptions = [
      [{ timeoutMs: 'x' }, /timeoutMs/],
      [{ timeoutMs: 0 }, /timeoutMs/],
      [{ timeoutMs: 1.5 }, /timeoutMs/],
      [{ timeoutMs: NaN }, /timeoutMs/],
      [{ maxRetries: -1 }, /maxRetries/],
      [{ maxRetries: 1.5 }, /maxRetries/],
      [{ maxRetries: '2' }, /maxRetries/],
      [{ maxRetries: 1e9 }, /maxRetries/],
      [{ apiKey: '' }, /apiKey/],
      [{ apiKey: 42 }, /apiKey/],
      [{ apiKey: 'api-has space' }, /apiKey/],
      [{ baseUrl: 5 }, /baseUrl/],
      [{ userAgent: 'bot\r\nX-Evil: 1' }, /userAgent/],
      [{ userAgent: 7 }, /userAgent/],
    ]
    for (const [bad, message] of badClientOptions) {
      const options = { ...base, ...bad }
      const thrown = assertLdError(
        await failure(() => new ld.ReleaseClient(options)),
        { code: INVALID, attempts: 0 },
      )
      assert.match(thrown.message, message)
      const rejected = await expectLdError(() => ld.completePhase('web', 'checkout', 0, options), {
        code: INVALID,
        attempts: 0,
      })
      assert.match(rejected.message, message)
    }
    assert.throws(() => new ld.ReleaseClient('api-key-as-string'), { code: INVALID })
    assert.throws(() => new ld.ReleaseClient([]), { code: INVALID })

    const c = client(server)
    const badRequestOptions = [
      [{ signal: {} }, /signal/],
      [{ signal: 'abort' }, /signal/],
      [{ signal: { aborted: false } }, /signal/],
      [{ timeoutMs: 'x' }, /timeoutMs/],
      [{ timeoutMs: -5 }, /timeoutMs/],
      [{ maxRetries: -1 }, /maxRetries/],
    ]
    for (const [bad, message] of badRequestOptions) {
      for (const call of [
        () => c.completePhase('web', 'checkout', 0, bad),
        () => c.getRelease('web', 'checkout', bad),
        () => ld.getRelease('web', 'checkout', { ...base, ...bad }),
      ]) {
        const error = await expectLdError(call, { code: INVALID, attempts: 0 })
        assert.match(error.message, message)
      }
    }
    await expectLdError(() => c.completePhase('web', 'checkout', 0, 'fast'), { code: INVALID })
    await assertNothingSent(server)
  })

  test('ERR_LD_NO_API_KEY: no token in options or environment', async (t) => {
    const server = await fake(t)
    setEnv(t, { LD_ACCESS_TOKEN: '   ', LAUNCHDARKLY_ACCESS_TOKEN: '' })
    const c = new ld.ReleaseClient({ baseUrl: server.url })
    for (const call of [
      () => c.completePhase('web', 'checkout', 0),
      () => c.getRelease('web', 'checkout'),
      () => c.patchRelease('web', 'checkout', ld.phasePatch(0, true)),
      () => ld.completePhase('web', 'checkout', 0, { baseUrl: server.url }),
      () => ld.getRelease('web', 'checkout', { baseUrl: server.url }),
    ]) {
      const error = await expectLdError(call, { code: 'ERR_LD_NO_API_KEY', attempts: 0, status: undefined })
      assert.match(error.message, /LD_ACCESS_TOKEN/)
    }
    // previewRequest works without a token and says so.
    assert.equal(ld.previewRequest('GET', 'web', 'checkout', null, { baseUrl: server.url }).headers.Authorization, '(not set)')
    await assertNothingSent(server)
  })

  test('ERR_LD_INSECURE_URL: http: to a non-loopback host, or not a URL', async (t) => {
    const server = await fake(t)
    const withCredentials = [
      `http://user:${TOKEN}@127.0.0.1:1/`,
      // Not even a URL that fails to parse (a bad port, no scheme) quotes its credentials.
      `https://user:${TOKEN}@example.com:99999/`,
      `https://${TOKEN}@example.com:port/`,
      `user:${TOKEN}@example.com:99999`,
    ]
    for (const baseUrl of ['http://example.com', 'not a url', 'ftp://127.0.0.1/', '', ...withCredentials]) {
      const thrown = assertLdError(
        await failure(() => new ld.ReleaseClient({ apiKey: TOKEN, baseUrl })),
        { code: 'ERR_LD_INSECURE_URL', attempts: 0 },
      )
      assert.match(thrown.message, /baseUrl/)
      await expectLdError(() => ld.completePhase('web', 'checkout', 0, { apiKey: TOKEN, baseUrl, maxRetries: 0, timeoutMs: 200 }), {
        code: 'ERR_LD_INSECURE_URL',
        attempts: 0,
      })
    }
    const bad = await failure(() => new ld.ReleaseClient({ apiKey: 'api-other-0000', baseUrl: `https://user:${TOKEN}@example.com:99999/x` }))
    assert.match(bad.message, /^baseUrl is not a valid URL \(invalid port number\): "https:\/\/\*\*\*\*@example\.com:99999\/x"$/)
    // From the environment too.
    setEnv(t, { LD_ACCESS_TOKEN: TOKEN, LD_BASE_URI: 'http://example.com' })
    assert.throws(() => new ld.ReleaseClient(), { code: 'ERR_LD_INSECURE_URL' })
    await expectLdError(() => ld.getRelease('web', 'checkout', { maxRetries: 0, timeoutMs: 200 }), {
      code: 'ERR_LD_INSECURE_URL',
      attempts: 0,
    })
    // Loopback over http is fine: localhost and the whole 127.0.0.0/8 are accepted.
    new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: 'http://localhost:1' })
    new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: 'http://127.1.2.3:1' })
    new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: 'http://[::1]:1' })
    await assertNothingSent(server)
  })
})

const HTML_502 = `<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title><style>body { color: red }</style></head>
<body><center><h1>502   Bad Gateway</h1></center><hr><center>nginx</center>
${'<p>filler</p>\n'.repeat(200)}</body></html>`

// Each test has its own fake and client, so they run concurrently.
describe('answers of the server', { concurrency: true }, () => {
  test('ERR_LD_BAD_REQUEST: 400 from the server for a patch our validator accepts', async (t) => {
    const server = await fake(t)
    const c = client(server, { maxRetries: 3 })
    for (const patch of [
      [{ op: 'replace', path: '/phases/9/complete', value: true }],
      [{ op: 'replace', path: '/name', value: 'renamed' }],
      [{ op: 'remove', path: '/phases/0' }],
    ]) {
      server.clearRequests()
      const error = await expectLdError(() => c.patchRelease('web', 'checkout', patch), {
        code: 'ERR_LD_BAD_REQUEST',
        status: 400,
        apiCode: 'invalid_request',
        attempts: 1,
      })
      assert.equal(typeof error.apiMessage, 'string')
      assert.ok(error.apiMessage.length > 0)
      assert.ok(error.message.includes(error.apiMessage), error.message)
      assert.equal(server.requests.length, 1, 'a 400 is never retried')
    }
    assert.deepEqual(server.getRelease('web', 'checkout'), sampleRelease(), 'the release is unchanged')
  })

  test('ERR_LD_BAD_REQUEST: 422 via a fault', async (t) => {
    const server = await fake(t)
    server.injectFault({
      times: 1,
      status: 422,
      body: { code: 'unprocessable_entity', message: 'Release is not in a legacy pipeline' },
    })
    await expectLdError(() => client(server, { maxRetries: 3 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_BAD_REQUEST',
      status: 422,
      apiCode: 'unprocessable_entity',
      apiMessage: 'Release is not in a legacy pipeline',
      attempts: 1,
    })
    assert.equal(server.requests.length, 1)
  })

  test('ERR_LD_UNAUTHORIZED: 401 for a wrong token', async (t) => {
    const server = await fake(t)
    const wrong = 'api-wrong-0b3e55aa-SECRET-44f0'
    const c = new ld.ReleaseClient({ apiKey: wrong, baseUrl: server.url, maxRetries: 3 })
    const error = await expectLdError(
      () => c.completePhase('web', 'checkout', 0),
      { code: 'ERR_LD_UNAUTHORIZED', status: 401, apiCode: 'unauthorized', attempts: 1 },
      wrong,
    )
    assertNoSecret(error, TOKEN)
    assert.equal(server.requests.length, 1)
    assert.equal(server.requests[0].headers.authorization, wrong)
  })

  test('ERR_LD_BETA_HEADER_MISSING: 403 with the beta message names the header and a proxy', async (t) => {
    const server = await fake(t, { requireBetaHeader: true })
    const message = 'This API is in beta. To use it, your request must include the header `LD-API-Version: beta`.'
    server.injectFault({ times: 1, status: 403, body: { code: 'forbidden', message } })
    const error = await expectLdError(() => client(server, { maxRetries: 3 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_BETA_HEADER_MISSING',
      status: 403,
      apiCode: 'forbidden',
      apiMessage: message,
      attempts: 1,
    })
    assert.match(error.message, /did not receive the LD-API-Version: beta header/)
    assert.match(error.message, /proxy/)
    assert.equal(server.requests.length, 1)
    // The same message with 400 or 404 (as the service sometimes answers) is told apart too;
    // a 403 for another reason stays ERR_LD_FORBIDDEN.
    for (const status of [400, 404]) {
      server.injectFault({ times: 1, status, body: { code: 'x', message } })
      await expectLdError(() => client(server).getRelease('web', 'checkout'), { code: 'ERR_LD_BETA_HEADER_MISSING', status })
    }
    server.injectFault({ times: 1, status: 403, body: { code: 'forbidden', message: 'Access to the requested resource was denied' } })
    await expectLdError(() => client(server).getRelease('web', 'checkout'), { code: 'ERR_LD_FORBIDDEN', status: 403 })
    // Without a fault, the beta header we send is enough for a fake that requires it.
    await client(server).completePhase('web', 'checkout', 0)
  })

  test('ERR_LD_FORBIDDEN: an empty 403 body still explains the beta header', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, status: 403, body: '', contentType: 'text/plain' })
    const error = await expectLdError(() => client(server).getRelease('web', 'checkout'), {
      code: 'ERR_LD_FORBIDDEN',
      status: 403,
      apiCode: undefined,
      apiMessage: undefined,
      attempts: 1,
    })
    assert.match(error.message, /LD-API-Version/)
  })

  test('ERR_LD_NOT_FOUND: 404 for an unknown flag or a flag without a release', async (t) => {
    const server = await fake(t)
    const c = client(server, { maxRetries: 3 })
    for (const [project, flag] of [
      ['web', 'no-such-flag'],
      ['no-such-project', 'checkout'],
    ]) {
      server.clearRequests()
      await expectLdError(() => c.completePhase(project, flag, 0), {
        code: 'ERR_LD_NOT_FOUND',
        status: 404,
        apiCode: 'not_found',
        attempts: 1,
      })
      assert.equal(server.requests.length, 1)
    }
    server.deleteRelease('web', 'checkout')
    await expectLdError(() => c.getRelease('web', 'checkout'), { code: 'ERR_LD_NOT_FOUND', status: 404, attempts: 1 })
  })

  test('ERR_LD_CONFLICT: 409 via a fault', async (t) => {
    const server = await fake(t)
    server.injectFault({
      times: 1,
      status: 409,
      body: { code: 'optimistic_locking_error', message: 'conflicts with a concurrent API request' },
    })
    await expectLdError(() => client(server, { maxRetries: 3 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_CONFLICT',
      status: 409,
      apiCode: 'optimistic_locking_error',
      apiMessage: 'conflicts with a concurrent API request',
      attempts: 1,
    })
    assert.equal(server.requests.length, 1)
  })

  test('ERR_LD_RATE_LIMITED: 429 after the retries are spent, with retryAfterMs', async (t) => {
    const server = await fake(t)
    server.injectFault({
      times: 5,
      status: 429,
      headers: { 'Retry-After': '1' },
      body: { code: 'rate_limited', message: 'You have been rate limited' },
    })
    const started = Date.now()
    await expectLdError(() => client(server, { maxRetries: 1 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_RATE_LIMITED',
      status: 429,
      apiCode: 'rate_limited',
      apiMessage: 'You have been rate limited',
      retryAfterMs: 1000,
      attempts: 2,
    })
    assert.ok(Date.now() - started >= 1000, 'waited the advised second before the retry')
    assert.equal(server.requests.length, 2)
  })

  test('ERR_LD_RATE_LIMITED: a reset more than 60 s away fails at once', async (t) => {
    const server = await fake(t)
    server.injectFault({
      times: 5,
      status: 429,
      headers: { 'X-Ratelimit-Reset': String(Date.now() + 120_000) },
      body: { code: 'rate_limited', message: 'slow down' },
    })
    const started = Date.now()
    const error = await expectLdError(() => client(server, { maxRetries: 3 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_RATE_LIMITED',
      status: 429,
      attempts: 1,
    })
    assert.ok(Date.now() - started < 1000, 'no wait')
    assert.ok(error.retryAfterMs > 60_000 && error.retryAfterMs <= 120_000, `retryAfterMs ${error.retryAfterMs}`)
    assert.equal(server.requests.length, 1)
  })

  test('ERR_LD_RATE_LIMITED: Retry-After beyond 60 s fails at once too', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, status: 429, headers: { 'Retry-After': '3600' } })
    await expectLdError(() => client(server, { maxRetries: 3 }).getRelease('web', 'checkout'), {
      code: 'ERR_LD_RATE_LIMITED',
      status: 429,
      retryAfterMs: 3_600_000,
      attempts: 1,
    })
    assert.equal(server.requests.length, 1)
  })


  test('ERR_LD_SERVER: a 5xx with an HTML body gives a short excerpt without tags', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, status: 502, body: HTML_502, contentType: 'text/html' })
    const error = await expectLdError(() => client(server, { maxRetries: 1 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_SERVER',
      status: 502,
      apiCode: undefined,
      apiMessage: undefined,
      attempts: 2,
    })
    assert.equal(server.requests.length, 2)
    assert.match(error.message, /502 Bad Gateway/)
    assert.match(error.message, /nginx/)
    assert.doesNotMatch(error.message, /<[a-z!/]/i, 'no HTML tags')
    assert.ok(error.message.length < 500, `short: ${error.message.length} chars`)
  })

  test('ERR_LD_SERVER: an empty 500 body', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 1, status: 500, body: '' })
    const error = await expectLdError(() => client(server, { maxRetries: 0 }).getRelease('web', 'checkout'), {
      code: 'ERR_LD_SERVER',
      status: 500,
      attempts: 1,
    })
    assert.match(error.message, /500/)
  })

  test('ERR_LD_HTTP: any other non-2xx status', async (t) => {
    const server = await fake(t)
    const c = client(server, { maxRetries: 3 })
    for (const status of [418, 405]) {
      server.clearRequests()
      server.injectFault({ times: 1, status, body: { code: 'odd', message: `status ${status}` } })
      await expectLdError(() => c.completePhase('web', 'checkout', 0), {
        code: 'ERR_LD_HTTP',
        status,
        apiCode: 'odd',
        apiMessage: `status ${status}`,
        attempts: 1,
      })
      assert.equal(server.requests.length, 1)
    }
  })

  test('ERR_LD_TIMEOUT: an attempt slower than timeoutMs', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, delayMs: 1000 })
    let started = Date.now()
    const error = await expectLdError(() => client(server, { timeoutMs: 150 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)), {
      code: 'ERR_LD_TIMEOUT',
      status: undefined,
      attempts: 1,
    })
    assert.ok(Date.now() - started < 1500, 'ends at the timeout')
    assert.ok(error.message.startsWith(`PATCH /api/v2/flags/web/checkout/release to 127.0.0.1:${new URL(server.url).port} timed out after 150 ms`), error.message)

    // A stalled body times out too, and a per-call timeout overrides the client's.
    server.clearRequests()
    server.injectFault({ times: 5, stallMs: 1000 })
    started = Date.now()
    await expectLdError(() => client(server, { timeoutMs: 20000 }).getRelease('web', 'checkout', { timeoutMs: 150, maxRetries: 1 }), {
      code: 'ERR_LD_TIMEOUT',
      attempts: 2,
    })
    assert.ok(Date.now() - started < 2000)
    assert.equal(server.requests.length, 2)
  })

  test('ERR_LD_NETWORK: nothing listening on the port', async () => {
    const port = await deadPort()
    const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1, timeoutMs: 1000 })
    const error = await expectLdError(() => c.patchRelease('web', 'checkout', ld.phasePatch(0, true)), {
      code: 'ERR_LD_NETWORK',
      status: undefined,
      attempts: 2,
    })
    // It names where it tried.
    assert.match(error.message, new RegExp(`^PATCH /api/v2/flags/web/checkout/release: connecting to 127\\.0\\.0\\.1:${port} failed: .*refused`, 'i'))
    await expectLdError(
      () => ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 }),
      { code: 'ERR_LD_NETWORK', attempts: 1 },
    )
  })

  test('ERR_LD_NETWORK: a connection dropped on every attempt', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, drop: 'before-response' })
    await expectLdError(() => client(server, { maxRetries: 1 }).patchRelease('web', 'checkout', ld.phasePatch(0, true)), {
      code: 'ERR_LD_NETWORK',
      attempts: 2,
    })
    assert.equal(server.requests.length, 2)
  })

  test('ERR_LD_DECODE: a 2xx body that is not JSON', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, status: 200, malformed: true })
    const error = await expectLdError(() => client(server, { maxRetries: 3 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_DECODE',
      status: 200,
      attempts: 1,
    })
    assert.match(error.message, /accepted the request/)
    assert.match(error.message, /not valid JSON/)
    assert.equal(server.requests.length, 1, 'a decode failure is not retried: the server already applied the patch')
  })

  test('ERR_LD_DECODE: a 200 lacking what the call needs names its path; other gaps pass', async (t) => {
    const server = await fake(t)
    const body = sampleRelease()
    delete body.phases[1]._id
    server.injectFault({ times: 1, match: { method: 'GET' }, status: 200, body })
    const error = await expectLdError(() => client(server).completePhase('web', 'checkout', { name: 'Staging' }), {
      code: 'ERR_LD_DECODE',
      status: 200,
      attempts: 1,
    })
    assert.match(error.message, /phases\[1\]\._id/)
    assert.match(error.message, /accepted the request/)
    assert.match(error.bodyExcerpt, /^\{"_links"/)
    assert.ok(error.bodyExcerpt.length <= 201)
    assert.ok(!server.requests.some((r) => r.method === 'PATCH'), 'nothing written')

    // A field no call needs, missing or of another type, is passed through as sent.
    const odd = sampleRelease()
    odd.phases[0]._creationDate = 'yesterday'
    delete odd.phases[1]._audiences
    delete odd._version
    server.injectFault({ times: 1, status: 200, body: odd })
    assert.deepEqual(await client(server).getRelease('web', 'checkout'), odd)
  })

  test('ERR_LD_RESPONSE_TOO_LARGE: a body over 16 MiB', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, status: 200, oversizeBytes: 17 * 1024 * 1024 })
    const started = Date.now()
    const error = await expectLdError(() => client(server, { maxRetries: 3, timeoutMs: 10000 }).completePhase('web', 'checkout', 0), {
      code: 'ERR_LD_RESPONSE_TOO_LARGE',
      status: 200,
      attempts: 1,
    })
    assert.match(error.message, /16 MiB/)
    assert.ok(Date.now() - started < 5000)
    assert.equal(server.requests.length, 1)
  })

  test('a token echoed by the server is masked in every error', async (t) => {
    const server = await fake(t)
    const c = client(server, { maxRetries: 0 })
    const masked = `****${TOKEN.slice(-4)}`

    server.injectFault({ times: 1, status: 400, body: { code: 'invalid_request', message: `token ${TOKEN} may not do this` } })
    let error = await expectLdError(() => c.completePhase('web', 'checkout', 0), { code: 'ERR_LD_BAD_REQUEST' })
    assert.equal(error.apiMessage, `token ${masked} may not do this`)

    // Long enough that the excerpt is cut: no prefix of the token may survive either.
    const html = `<html><body><pre>${'x'.repeat(170)} Authorization: ${TOKEN}</pre></body></html>`
    server.injectFault({ times: 1, status: 502, body: html, contentType: 'text/html' })
    error = await expectLdError(() => c.getRelease('web', 'checkout'), { code: 'ERR_LD_SERVER' })
    assert.ok(!error.message.includes(TOKEN.slice(0, 12)), error.message)

    server.injectFault({ times: 1, status: 200, body: `<p>not JSON, for ${TOKEN}</p>`, contentType: 'text/html' })
    error = await expectLdError(() => c.getRelease('web', 'checkout'), { code: 'ERR_LD_DECODE' })
    assert.equal(error.bodyExcerpt, `<p>not JSON, for ${masked}</p>`)
  })

  test('another live client’s token in an error body is masked in every field of the error', async (t) => {
    const server = await fake(t)
    const c = client(server, { maxRetries: 0 })
    // A second client, alive for the whole test, holding a token of its own: the calling
    // client's masking does not know it; the process-wide masking must.
    const OTHER = 'api-other-client-0a7c44e1-TOKEN-5b2f'
    const other = new ld.ReleaseClient({ apiKey: OTHER, baseUrl: server.url })
    const masked = `****${OTHER.slice(-4)}`
    const escaped = [...OTHER].map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')
    const check = (error, fields) => {
      for (const [field, expected] of Object.entries(fields)) {
        if (expected === undefined) assert.ok(!(field in error), `${field} should be absent: ${inspect(error)}`)
        else assert.equal(error[field], expected, field)
      }
      for (const [where, text] of Object.entries({
        message: error.message,
        apiCode: error.apiCode,
        apiMessage: error.apiMessage,
        bodyExcerpt: error.bodyExcerpt,
        cause: inspect(error.cause),
        string: String(error),
        inspect: inspect(error, { showHidden: true, depth: null }),
        json: JSON.stringify(error),
      })) {
        assertNoSecretIn(String(text), `the error's ${where}`, OTHER)
      }
      assertNoSecret(error, OTHER)
      assertNoSecret(error)
    }

    // JSON: the code and the message carry it, as is and JSON-escaped.
    server.injectFault({ times: 1, status: 400, body: `{"code":"bad-${OTHER}","message":"token ${escaped} may not; neither may ${OTHER}"}`, contentType: 'application/json' })
    let error = await expectLdError(() => c.completePhase('web', 'checkout', 0), { code: 'ERR_LD_BAD_REQUEST', status: 400 })
    check(error, { apiCode: `bad-${masked}`, apiMessage: `token ${masked} may not; neither may ${masked}`, cause: undefined })
    assert.ok(error.message.includes(masked), error.message)

    // Not JSON: the excerpt carries it.
    server.injectFault({ times: 1, status: 200, body: `<p>not JSON, for ${OTHER}</p>`, contentType: 'text/html' })
    error = await expectLdError(() => c.getRelease('web', 'checkout'), { code: 'ERR_LD_DECODE' })
    check(error, { bodyExcerpt: `<p>not JSON, for ${masked}</p>`, cause: undefined })

    // A refusal that is not JSON: the message and the excerpt.
    server.injectFault({ times: 1, status: 403, body: `denied: ${OTHER} is not yours`, contentType: 'text/plain' })
    error = await expectLdError(() => c.getRelease('web', 'checkout'), { code: 'ERR_LD_FORBIDDEN', status: 403 })
    check(error, { apiCode: undefined, apiMessage: undefined, bodyExcerpt: undefined, cause: undefined })
    assert.ok(error.message.includes(`denied: ${masked} is not yours`), error.message)
    assert.ok(other instanceof ld.ReleaseClient, 'the second client is still alive here')
  })

  test('errors are Errors with a stack, and the JSON form carries the code', async (t) => {
    const server = await fake(t)
    const error = await failure(() => client(server).completePhase('web', 'nope', 0))
    assert.ok(error instanceof Error)
    assert.equal(typeof error.stack, 'string')
    const json = JSON.parse(JSON.stringify(error))
    assert.equal(json.code, 'ERR_LD_NOT_FOUND')
    assert.equal(json.status, 404)
    assert.match(String(error), /^LaunchDarklyError: /)
  })
})

function assertAbortError(error, reason) {
  assert.ok(error instanceof Error, 'an Error')
  assert.equal(error.name, 'AbortError')
  assert.equal(error.code, 'ABORT_ERR')
  assert.equal(error.cause, reason)
  assertNoSecret(error)
}

describe('aborts', { concurrency: true }, () => {
  test('an AbortSignal aborts a request in flight, promptly', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, delayMs: 1500 })
    const controller = new AbortController()
    const reason = new Error('deploy cancelled')
    const started = Date.now()
    setTimeout(() => controller.abort(reason), 100)
    const error = await failure(() =>
      client(server, { timeoutMs: 10000, maxRetries: 3 }).completePhase('web', 'checkout', 0, { signal: controller.signal }),
    )
    assertAbortError(error, reason)
    assert.ok(Date.now() - started < 1000, `prompt: ${Date.now() - started} ms`)
    assert.equal(server.requests.length, 1)
  })

  test('an abort without a reason gives the signal’s DOMException as cause; module-level too', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, stallMs: 1500 })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const started = Date.now()
    const error = await failure(() =>
      ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: server.url, timeoutMs: 10000, signal: controller.signal }),
    )
    assertAbortError(error, controller.signal.reason)
    assert.equal(error.cause.name, 'AbortError')
    assert.ok(Date.now() - started < 1000)
  })

  test('an abort during the wait between retries ends the call', async (t) => {
    const server = await fake(t)
    server.injectFault({ times: 5, status: 429, headers: { 'Retry-After': '30' } })
    const controller = new AbortController()
    const reason = 'stop'
    setTimeout(() => controller.abort(reason), 150)
    const started = Date.now()
    const error = await failure(() => client(server, { maxRetries: 3 }).completePhase('web', 'checkout', 0, { signal: controller.signal }))
    assertAbortError(error, reason)
    assert.ok(Date.now() - started < 1000)
    assert.equal(server.requests.length, 1)
  })

  test('an already-aborted signal sends nothing', async (t) => {
    const server = await fake(t)
    const reason = new Error('already')
    const signal = AbortSignal.abort(reason)
    const c = client(server)
    for (const call of [
      () => c.completePhase('web', 'checkout', 0, { signal }),
      () => c.getRelease('web', 'checkout', { signal }),
      () => c.patchRelease('web', 'checkout', ld.phasePatch(1, true), { signal }),
      () => ld.reopenPhase('web', 'checkout', 0, { apiKey: TOKEN, baseUrl: server.url, signal }),
    ]) {
      assertAbortError(await failure(call), reason)
    }
    await assertNothingSent(server)
    assert.equal(getEventListeners(signal, 'abort').length, 0)
  })

  test('a signal reused for 20 calls leaks no listener and raises no warning', async (t) => {
    const server = await fake(t)
    const warnings = []
    const onWarning = (w) => warnings.push(w)
    process.on('warning', onWarning)
    t.after(() => process.off('warning', onWarning))
    const controller = new AbortController()
    const c = client(server)
    for (let i = 0; i < 20; i++) {
      await c.completePhase('web', 'checkout', i % 3, { signal: controller.signal })
      await ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: server.url, signal: controller.signal })
    }
    // Failed calls must release the listener too.
    for (let i = 0; i < 12; i++) {
      await failure(() => c.getRelease('web', 'missing', { signal: controller.signal }))
    }
    await sleep(20)
    // Each completion: the release and the PATCH (the first also the pipeline); each read one.
    assert.equal(server.requests.length, 20 * 2 + 1 + 20 + 12)
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'every listener removed')
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map(String),
      [],
    )
    // Aborting now affects no finished call, and the signal still aborts the next one.
    controller.abort()
    assertAbortError(await failure(() => c.getRelease('web', 'checkout', { signal: controller.signal })), controller.signal.reason)
  })
})
