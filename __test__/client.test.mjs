// The exact requests the addon sends and what it makes of the answers, over loopback
// HTTP against the fake LaunchDarkly.
import assert from 'node:assert/strict'
import { test } from 'node:test'

import {
  TOKEN,
  VERSION,
  client,
  countRawHeader,
  fake,
  ld,
  sampleRelease,
  setEnv,
  tinyServer,
} from './helpers.mjs'

const PHASE0_COMPLETE = '[{"op":"replace","path":"/phases/0/complete","value":true}]'
const PATH = '/api/v2/flags/web/checkout/release'

function assertCommonHeaders(request, { userAgent = `ld-release/${VERSION}`, body }) {
  assert.equal(request.headers.authorization, TOKEN, 'raw token, no Bearer')
  assert.equal(countRawHeader(request.rawHeaders, 'authorization'), 1)
  assert.equal(countRawHeader(request.rawHeaders, 'ld-api-version'), 1, 'LD-API-Version exactly once')
  assert.equal(request.headers['ld-api-version'], 'beta')
  assert.equal(request.headers.accept, 'application/json')
  assert.equal(countRawHeader(request.rawHeaders, 'accept'), 1)
  assert.equal(request.headers['user-agent'], userAgent)
  if (body) {
    assert.equal(request.headers['content-type'], 'application/json')
    assert.equal(countRawHeader(request.rawHeaders, 'content-type'), 1)
  } else {
    assert.equal(request.headers['content-type'], undefined, 'no Content-Type without a body')
    assert.equal(request.body, '')
  }
}

const PIPELINE = '/api/v2/projects/web/release-pipelines/standard-rollout'

test('completePhase reads the release and its pipeline, then sends the documented PATCH and returns the updated release', async (t) => {
  const server = await fake(t)
  const release = await client(server, { userAgent: 'deploy-bot/2' }).completePhase('web', 'checkout', 0)

  assert.deepEqual(
    server.requests.map((r) => `${r.method} ${r.path}`),
    [`GET ${PATH}`, `GET ${PIPELINE}`, `PATCH ${PATH}`],
  )
  for (const read of server.requests.slice(0, 2)) assertCommonHeaders(read, { userAgent: `ld-release/${VERSION} deploy-bot/2`, body: false })
  const request = server.requests[2]
  assert.equal(request.method, 'PATCH')
  assert.equal(request.path, PATH)
  assert.equal(request.body, PHASE0_COMPLETE)
  assertCommonHeaders(request, { userAgent: `ld-release/${VERSION} deploy-bot/2`, body: true })

  assert.equal(release.phases[0].complete, true)
  assert.equal(typeof release.phases[0]._completionDate, 'number')
  assert.deepEqual(release, server.getRelease('web', 'checkout'))
  assert.equal(release._version, sampleRelease()._version + 1)
})

test('reopenPhase sends value false', async (t) => {
  const server = await fake(t)
  const c = client(server)
  await c.completePhase('web', 'checkout', 1)
  const release = await c.reopenPhase('web', 'checkout', 1)
  // The second call: the pipeline's kind is known, the release is read, then patched.
  assert.deepEqual(
    server.requests.map((r) => `${r.method} ${r.path}`),
    [`GET ${PATH}`, `GET ${PIPELINE}`, `PATCH ${PATH}`, `GET ${PATH}`, `PATCH ${PATH}`],
  )
  const reopen = server.requests[4]
  assert.equal(reopen.body, '[{"op":"replace","path":"/phases/1/complete","value":false}]')
  assertCommonHeaders(reopen, { body: true })
  assert.equal(release.phases[1].complete, false)
  assert.deepEqual(release, server.getRelease('web', 'checkout'))
})

test('getRelease is a GET with no body and no Content-Type', async (t) => {
  const server = await fake(t)
  const release = await client(server).getRelease('web', 'checkout')
  assert.equal(server.requests.length, 1)
  const [request] = server.requests
  assert.equal(request.method, 'GET')
  assert.equal(request.path, PATH)
  assertCommonHeaders(request, { body: false })
  assert.deepEqual(release, server.getRelease('web', 'checkout'))
})

test('text beyond ASCII, escapes and large numbers come back exactly, from single and bulk calls', async (t) => {
  const release = sampleRelease({ name: 'Déploiement « progressif » 🚀 — 段階', releasePipelineDescription: 'tab\there, "quoted", back\\slash, nul \u0000 and \u2028' })
  release.phases[1]._name = 'Staging ✓'
  release.phases[2]._creationDate = 8_640_000_000_000_000
  const server = await fake(t, { releases: [{ projectKey: 'web', flagKey: 'checkout', release }] })
  const c = client(server)
  assert.deepEqual(await c.getRelease('web', 'checkout'), release)
  const [bulk] = await c.completePhases([{ projectKey: 'web', flagKey: 'checkout', phase: 0 }])
  assert.equal(bulk.ok, true)
  assert.deepEqual(bulk.release, server.getRelease('web', 'checkout'))
  assert.equal(bulk.release.name, release.name)
  assert.equal(bulk.release.releasePipelineDescription, release.releasePipelineDescription)
})

test("patchRelease sends the caller's operations as given", async (t) => {
  const server = await fake(t)
  const ops = [
    { op: 'replace', path: '/phases/0/complete', value: true },
    { op: 'replace', path: '/phases/2/complete', value: true },
  ]
  const release = await client(server).patchRelease('web', 'checkout', ops)
  assert.equal(server.requests.length, 1)
  assert.equal(server.requests[0].method, 'PATCH')
  assert.equal(server.requests[0].path, PATH)
  assert.equal(server.requests[0].body, JSON.stringify(ops))
  assertCommonHeaders(server.requests[0], { body: true })
  assert.deepEqual(
    release.phases.map((p) => p.complete),
    [true, false, true],
  )
})

test('phasePatch builds the body completePhase sends; it is pure', async (t) => {
  const server = await fake(t)
  assert.deepEqual(ld.phasePatch(0, true), [{ op: 'replace', path: '/phases/0/complete', value: true }])
  assert.deepEqual(ld.phasePatch(2, false), [{ op: 'replace', path: '/phases/2/complete', value: false }])
  assert.deepEqual(ld.phasePatch(4294967295, true)[0].path, '/phases/4294967295/complete')
  assert.equal(JSON.stringify(ld.phasePatch(0, true)), PHASE0_COMPLETE)
  // What phasePatch returns is a valid patch for patchRelease, and the wire body is the same.
  await client(server).patchRelease('web', 'checkout', ld.phasePatch(0, true))
  assert.equal(server.requests.length, 1)
  assert.equal(server.requests[0].body, PHASE0_COMPLETE)
})

test('keys are percent-encoded as single path segments', async (t) => {
  const flagKey = 'a/b?c#d'
  const projectKey = 'my proj%'
  const server = await fake(t, {
    releases: [{ projectKey, flagKey, release: sampleRelease() }],
  })
  const c = client(server)
  const release = await c.patchRelease(projectKey, flagKey, ld.phasePatch(0, true))
  const expected = '/api/v2/flags/my%20proj%25/a%2Fb%3Fc%23d/release'
  assert.equal(server.requests.length, 1)
  assert.equal(server.requests[0].path, expected)
  assert.equal(release.phases[0].complete, true)
  assert.equal(server.getRelease(projectKey, flagKey).phases[0].complete, true)
  await c.getRelease(projectKey, flagKey)
  assert.equal(server.requests[1].path, expected)
  await c.completePhase(projectKey, flagKey, 1)
  assert.deepEqual(
    server.requests.slice(2).map((r) => r.path),
    [expected, '/api/v2/projects/my%20proj%25/release-pipelines/standard-rollout', expected],
  )
})

test('a baseUrl path prefix is kept and slashes do not double', async (t) => {
  const server = await tinyServer(t, () => ({ body: sampleRelease() }))
  const cases = [
    [`${server.url}/ld/`, '/ld/api/v2/flags/p/f/release'],
    [`${server.url}/ld`, '/ld/api/v2/flags/p/f/release'],
    [`${server.url}/`, '/api/v2/flags/p/f/release'],
    [`${server.url}/a/b//`, '/a/b/api/v2/flags/p/f/release'],
  ]
  for (const [baseUrl, path] of cases) {
    const before = server.requests.length
    const release = await new ld.ReleaseClient({ apiKey: TOKEN, baseUrl, maxRetries: 0 }).patchRelease('p', 'f', ld.phasePatch(0, true))
    assert.equal(release.name, sampleRelease().name)
    assert.equal(server.requests.length, before + 1)
    assert.equal(server.requests[before].url, path, baseUrl)
    assert.equal(server.requests[before].method, 'PATCH')
  }
  // The module-level form builds the same URL.
  await ld.getRelease('p', 'f', { apiKey: TOKEN, baseUrl: `${server.url}/ld/`, maxRetries: 0 })
  assert.equal(server.requests.at(-1).url, '/ld/api/v2/flags/p/f/release')
  assert.equal(server.requests.at(-1).method, 'GET')
})

test('the fake does not route a prefixed baseUrl: 404, and the recorded path keeps the prefix', async (t) => {
  const server = await fake(t)
  const error = await client(server, { baseUrl: `${server.url}/ld/` })
    .completePhase('web', 'checkout', 0)
    .then(() => assert.fail('expected a 404'), (e) => e)
  assert.equal(error.code, 'ERR_LD_NOT_FOUND')
  assert.equal(error.status, 404)
  assert.equal(server.requests.length, 1)
  assert.equal(server.requests[0].path, `/ld${PATH}`)
})

test('module-level functions with { apiKey, baseUrl }', async (t) => {
  setEnv(t, {})
  const server = await fake(t)
  const options = { apiKey: server.apiKey, baseUrl: server.url, maxRetries: 0, timeoutMs: 2000 }

  let release = await ld.completePhase('web', 'checkout', 1, options)
  assert.equal(release.phases[1].complete, true)
  release = await ld.reopenPhase('web', 'checkout', 1, options)
  assert.equal(release.phases[1].complete, false)
  release = await ld.patchRelease('web', 'checkout', [{ op: 'replace', path: '/phases/2/complete', value: true }], options)
  assert.equal(release.phases[2].complete, true)
  release = await ld.getRelease('web', 'checkout', options)
  assert.deepEqual(release, server.getRelease('web', 'checkout'))

  assert.deepEqual(
    server.requests.map((r) => [r.method, r.path, r.body]),
    [
      ['GET', PATH, ''],
      ['GET', PIPELINE, ''],
      ['PATCH', PATH, '[{"op":"replace","path":"/phases/1/complete","value":true}]'],
      ['GET', PATH, ''],
      ['PATCH', PATH, '[{"op":"replace","path":"/phases/1/complete","value":false}]'],
      ['PATCH', PATH, '[{"op":"replace","path":"/phases/2/complete","value":true}]'],
      ['GET', PATH, ''],
    ],
  )
  for (const request of server.requests) assertCommonHeaders(request, { body: request.method === 'PATCH' })
})

test('module-level userAgent suffix', async (t) => {
  const server = await fake(t)
  await ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: server.url, userAgent: 'release-bot/7 (ci)' })
  assert.equal(server.requests[0].headers['user-agent'], `ld-release/${VERSION} release-bot/7 (ci)`)
})

test('module-level functions read LD_ACCESS_TOKEN and LD_BASE_URI', async (t) => {
  const server = await fake(t)
  setEnv(t, { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url })
  const release = await ld.completePhase('web', 'checkout', 0, { maxRetries: 0 })
  assert.equal(release.phases[0].complete, true)
  assert.equal(server.requests.length, 3)
  for (const request of server.requests) assert.equal(request.headers.authorization, TOKEN)
})

test('module-level functions read LAUNCHDARKLY_ACCESS_TOKEN and LAUNCHDARKLY_API_HOST', async (t) => {
  const server = await fake(t)
  setEnv(t, { LAUNCHDARKLY_ACCESS_TOKEN: server.apiKey, LAUNCHDARKLY_API_HOST: server.url })
  const release = await ld.getRelease('web', 'checkout')
  assert.deepEqual(release, server.getRelease('web', 'checkout'))
  assert.equal(server.requests.length, 1)
  assert.equal(server.requests[0].headers.authorization, TOKEN)
})

test('LD_* variables win over LAUNCHDARKLY_*, and options win over both', async (t) => {
  const right = await fake(t)
  const wrong = await fake(t, { apiKey: 'api-other-token-0000' })
  setEnv(t, {
    LD_ACCESS_TOKEN: TOKEN,
    LAUNCHDARKLY_ACCESS_TOKEN: 'api-wrong-token-1111',
    LD_BASE_URI: right.url,
    LAUNCHDARKLY_API_HOST: wrong.url,
  })
  await ld.getRelease('web', 'checkout', { maxRetries: 0 })
  assert.equal(right.requests.length, 1)
  assert.equal(wrong.requests.length, 0)
  assert.equal(right.requests[0].headers.authorization, TOKEN)

  await ld.getRelease('web', 'checkout', { apiKey: wrong.apiKey, baseUrl: wrong.url, maxRetries: 0 })
  assert.equal(wrong.requests.length, 1)
  assert.equal(wrong.requests[0].headers.authorization, 'api-other-token-0000')
  assert.equal(right.requests.length, 1)

  // The class reads the same variables.
  await new ld.ReleaseClient({ maxRetries: 0 }).getRelease('web', 'checkout')
  assert.equal(right.requests.length, 2)
})

test('module-level functions read the environment on every call', async (t) => {
  const first = await fake(t)
  const second = await fake(t)
  setEnv(t, { LD_ACCESS_TOKEN: TOKEN, LD_BASE_URI: first.url })
  await ld.completePhase('web', 'checkout', 0, { maxRetries: 0 })
  process.env.LD_BASE_URI = second.url
  await ld.completePhase('web', 'checkout', 1, { maxRetries: 0 })
  // Each call: the release, its pipeline, the PATCH.
  assert.equal(first.requests.length, 3)
  assert.equal(second.requests.length, 3)
  assert.equal(second.requests[2].body, '[{"op":"replace","path":"/phases/1/complete","value":true}]')

  process.env.LD_ACCESS_TOKEN = 'api-not-the-token-2222'
  const error = await ld.getRelease('web', 'checkout', { maxRetries: 0 }).catch((e) => e)
  assert.equal(error.code, 'ERR_LD_UNAUTHORIZED')
  assert.equal(second.requests.at(-1).headers.authorization, 'api-not-the-token-2222')
})

test('a ReleaseClient reads the environment once, at construction', async (t) => {
  const first = await fake(t)
  const second = await fake(t)
  setEnv(t, { LD_ACCESS_TOKEN: TOKEN, LD_BASE_URI: first.url })
  const c = new ld.ReleaseClient({ maxRetries: 0 })
  process.env.LD_BASE_URI = second.url
  process.env.LD_ACCESS_TOKEN = 'api-changed-later-3333'
  await c.completePhase('web', 'checkout', 0)
  assert.equal(first.requests.length, 3)
  assert.equal(second.requests.length, 0)
  for (const request of first.requests) assert.equal(request.headers.authorization, TOKEN)
  // A client built now sees the new values.
  await new ld.ReleaseClient({ apiKey: TOKEN, maxRetries: 0 }).getRelease('web', 'checkout')
  assert.equal(second.requests.length, 1)
})

test('previewRequest describes the request, masks the token and sends nothing', async (t) => {
  const server = await fake(t)
  const options = { apiKey: TOKEN, baseUrl: server.url, userAgent: 'bot/1' }
  const patch = ld.previewRequest('PATCH', 'web', 'a/b?c#d', ld.phasePatch(0, true), options)
  assert.equal(patch.method, 'PATCH')
  assert.equal(patch.url, `${server.url}/api/v2/flags/web/a%2Fb%3Fc%23d/release`)
  assert.equal(patch.body, PHASE0_COMPLETE)
  assert.equal(patch.headers.Authorization, `****${TOKEN.slice(-4)}`)
  assert.equal(patch.headers['LD-API-Version'], 'beta')
  assert.equal(patch.headers.Accept, 'application/json')
  assert.equal(patch.headers['Content-Type'], 'application/json')
  assert.equal(patch.headers['User-Agent'], `ld-release/${VERSION} bot/1`)
  const rendered = JSON.stringify(patch)
  assert.ok(!rendered.includes(TOKEN))
  assert.ok(!rendered.includes(TOKEN.slice(0, -4)))

  const get = ld.previewRequest('GET', 'web', 'checkout', null, options)
  assert.equal(get.method, 'GET')
  assert.equal(get.url, `${server.url}${PATH}`)
  assert.equal(get.body, undefined)
  assert.equal(get.headers['Content-Type'], undefined)
  assert.ok(!JSON.stringify(get).includes(TOKEN))

  // Preview refuses what a call would refuse.
  assert.throws(() => ld.previewRequest('GET', 'web', 'checkout', ld.phasePatch(0, true), options), {
    code: 'ERR_LD_INVALID_ARGUMENT',
  })
  assert.throws(() => ld.previewRequest('PATCH', 'web', 'checkout', undefined, options), {
    code: 'ERR_LD_INVALID_ARGUMENT',
    message: /patch is required for PATCH/,
  })
  assert.throws(() => ld.previewRequest('PATCH', 'web', 'checkout', null, options), { code: 'ERR_LD_INVALID_ARGUMENT', message: /patch is required for PATCH/ })
  assert.throws(() => ld.previewRequest('DELETE', 'web', 'checkout', null, options), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.throws(() => ld.previewRequest('GET', '', 'checkout', null, options), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.throws(() => ld.previewRequest('GET', 'web', 'checkout', null, { baseUrl: 'http://example.com' }), {
    code: 'ERR_LD_INSECURE_URL',
  })

  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(server.requests.length, 0, 'previewRequest must send nothing')
})

test('decoding: the Release equals what the server holds, with numbers for epoch fields', async (t) => {
  const server = await fake(t)
  const release = await client(server).completePhase('web', 'checkout', 0)
  const held = server.getRelease('web', 'checkout')
  assert.deepEqual(release, held)
  for (const phase of release.phases) {
    assert.equal(typeof phase._creationDate, 'number')
    assert.ok(Number.isSafeInteger(phase._creationDate) && phase._creationDate > 1e12, 'epoch milliseconds')
    if ('_completionDate' in phase) assert.equal(typeof phase._completionDate, 'number')
  }
  assert.equal(typeof release._version, 'number')
})

test('answers pass through: nulls stay null, unknown fields are kept, epoch strings become numbers', async (t) => {
  const release = sampleRelease()
  const wire = structuredClone(release)
  wire._releaseVariationId = null
  wire._canceledAt = null
  wire.brandNewField = { nested: true }
  wire.phases[0].futureField = 'x'
  wire.phases[0]._creationDate = String(release.phases[0]._creationDate)
  wire.phases[0]._audiences[0].notYetKnown = [1, 2]
  const server = await tinyServer(t, () => ({ body: wire }))
  const got = await new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url }).getRelease('web', 'checkout')

  assert.equal(got._releaseVariationId, null)
  assert.equal(got._canceledAt, null)
  assert.deepEqual(got.brandNewField, { nested: true })
  assert.equal(got.phases[0].futureField, 'x')
  assert.deepEqual(got.phases[0]._audiences[0].notYetKnown, [1, 2])
  assert.equal(got.phases[0]._creationDate, release.phases[0]._creationDate)
  assert.equal(typeof got.phases[0]._creationDate, 'number')

  const expected = structuredClone(wire)
  expected.phases[0]._creationDate = release.phases[0]._creationDate
  assert.deepEqual(got, expected)
})

test('decoding: a large epoch value keeps its precision', async (t) => {
  const wire = sampleRelease()
  wire.phases[0]._creationDate = 4102444800123 // 2100-01-01T00:00:00.123Z, beyond 32 bits
  wire._canceledAt = 1700000000999
  const server = await tinyServer(t, () => ({ body: wire }))
  const got = await new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url }).getRelease('web', 'checkout')
  assert.equal(got.phases[0]._creationDate, 4102444800123)
  assert.equal(got._canceledAt, 1700000000999)
})
