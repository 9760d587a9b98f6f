// The fake LaunchDarkly checks its options, keeps a bounded request log, refuses bodies
// over its limit with 413, never answers 500 to a well-formed phase PUT, and never
// writes `_version: null`.
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { describe, test } from 'node:test'

import { sampleRelease, startFakeLaunchDarkly } from './helpers.mjs'

/** Sends `body` to the fake with its token; resolves to { status, json }. */
function send(server, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method, headers: { authorization: server.apiKey, 'ld-api-version': 'beta', 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode, json: text ? JSON.parse(text) : undefined }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

async function started(t, options) {
  const server = await startFakeLaunchDarkly(options)
  t.after(() => server.close())
  return server
}

describe('the fake', { concurrency: true }, () => {
  test('refuses bad options with a TypeError naming them, before listening', async () => {
    for (const [options, name] of [
      [{ port: 'abc' }, 'options.port'],
      [{ port: '/tmp/fake.sock' }, 'options.port'],
      [{ port: 70000 }, 'options.port'],
      [{ port: 1.5 }, 'options.port'],
      [{ port: -1 }, 'options.port'],
      [{ apiKey: 42 }, 'options.apiKey'],
      [{ releases: {} }, 'options.releases'],
      [{ pipelines: 'none' }, 'options.pipelines'],
      [{ requireBetaHeader: 'yes' }, 'options.requireBetaHeader'],
      [{ rateLimit: { limit: 0 } }, 'options.rateLimit'],
      [{ rateLimit: { limit: 5, windowMs: -1 } }, 'options.rateLimit'],
      [{ maxRequests: -1 }, 'options.maxRequests'],
      [{ maxBodyBytes: 'big' }, 'options.maxBodyBytes'],
      [null, 'options'],
    ]) {
      await assert.rejects(startFakeLaunchDarkly(options), (error) => {
        assert.equal(error.name, 'TypeError', JSON.stringify(options))
        assert.equal(error.code, 'ERR_INVALID_ARG_VALUE')
        assert.ok(error.message.startsWith(`${name} must be`), error.message)
        return true
      })
    }
  })

  test('says what each bad option must be and what it got', async () => {
    const rateLimit = '{ limit: a positive integer, windowMs?: a positive number }'
    for (const [options, message] of [
      ['fast', 'options must be an object, got "fast"'],
      [5, 'options must be an object, got 5'],
      [{ port: 65536 }, 'options.port must be an integer from 0 to 65535, got 65536'],
      [{ port: '80' }, 'options.port must be an integer from 0 to 65535, got "80"'],
      [{ maxRequests: 1.5 }, `options.maxRequests must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got 1.5`],
      [{ maxBodyBytes: -1 }, `options.maxBodyBytes must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got -1`],
      [{ maxBodyBytes: Number.MAX_SAFE_INTEGER + 1 }, `options.maxBodyBytes must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got ${Number.MAX_SAFE_INTEGER + 1}`],
      [{ apiKey: '' }, 'options.apiKey must be a non-empty string, got ""'],
      [{ apiKey: null }, 'options.apiKey must be a non-empty string, got null'],
      [{ releases: null }, 'options.releases must be an array, got null'],
      [{ pipelines: {} }, 'options.pipelines must be an array, got {}'],
      [{ requireBetaHeader: 1 }, 'options.requireBetaHeader must be a boolean, got 1'],
      [{ rateLimit: null }, `options.rateLimit must be ${rateLimit}, got null`],
      [{ rateLimit: 5 }, `options.rateLimit must be ${rateLimit}, got 5`],
      [{ rateLimit: {} }, `options.rateLimit must be ${rateLimit}, got {}`],
      [{ rateLimit: { limit: 1.5 } }, `options.rateLimit must be ${rateLimit}, got { limit: 1.5 }`],
      [{ rateLimit: { limit: 1, windowMs: 0 } }, `options.rateLimit must be ${rateLimit}, got { limit: 1, windowMs: 0 }`],
      [{ rateLimit: { limit: 1, windowMs: '5' } }, `options.rateLimit must be ${rateLimit}, got { limit: 1, windowMs: '5' }`],
      [{ rateLimit: { limit: 1, windowMs: Infinity } }, `options.rateLimit must be ${rateLimit}, got { limit: 1, windowMs: Infinity }`],
      // A function with a limit is no rate limit; values other than strings are shown as
      // inspect shows them, on one line however long.
      [{ rateLimit: Object.assign(function limits() {}, { limit: 5 }) }, `options.rateLimit must be ${rateLimit}, got [Function: limits] { limit: 5 }`],
      [{ port: 80n }, 'options.port must be an integer from 0 to 65535, got 80n'],
      [{ apiKey: Symbol('key') }, 'options.apiKey must be a non-empty string, got Symbol(key)'],
      [{ rateLimit: { limit: 0, first: 'a'.repeat(70), second: 'b'.repeat(70) } }, `options.rateLimit must be ${rateLimit}, got { limit: 0, first: '${'a'.repeat(70)}', second: '${'b'.repeat(70)}' }`],
    ]) {
      // A fake that starts all the same is closed, so that the test ends.
      const attempt = startFakeLaunchDarkly(options).then(async (server) => (await server.close(), server))
      await assert.rejects(attempt, (error) => {
        assert.equal(error.message, message)
        assert.equal(error.code, 'ERR_INVALID_ARG_VALUE')
        return error instanceof TypeError
      })
    }
    // The bounds themselves are accepted.
    for (const options of [{ port: 0, maxRequests: 0, maxBodyBytes: Number.MAX_SAFE_INTEGER, rateLimit: { limit: 1, windowMs: 0.5 }, requireBetaHeader: false, releases: [], pipelines: [] }, { rateLimit: { limit: 1 } }]) {
      const server = await startFakeLaunchDarkly(options)
      await server.close()
    }
  })

  test('a port in use is refused with the error of listen', async (t) => {
    const first = await started(t, {})
    await assert.rejects(startFakeLaunchDarkly({ port: first.port }), { code: 'EADDRINUSE' })
    assert.equal((await send(first, 'GET', '/api/v2/flags/web/f/release')).status, 404, 'the first one still serves')
  })

  test('maxRequests 0 keeps none; maxBodyBytes 0 refuses any body and takes requests without one', async (t) => {
    const server = await started(t, { maxRequests: 0, maxBodyBytes: 0, releases: [{ projectKey: 'web', flagKey: 'f', release: sampleRelease() }] })
    assert.equal((await send(server, 'GET', '/api/v2/flags/web/f/release')).status, 200)
    assert.equal((await send(server, 'PATCH', '/api/v2/flags/web/f/release', '[')).status, 413)
    assert.deepEqual(server.requests, [])
  })

  test('without releases the fake holds none: a release is 404 and a pipeline lists no progressions', async (t) => {
    const server = await started(t, {})
    assert.equal((await send(server, 'GET', '/api/v2/flags/web/f/release')).status, 404)
    const listed = await send(server, 'GET', '/api/v2/projects/web/release-pipelines/standard-rollout/releases')
    assert.equal(listed.status, 200)
    assert.deepEqual([listed.json.items, listed.json.totalCount], [[], 0])
  })

  test('keeps the newest maxRequests requests', async (t) => {
    const server = await started(t, { maxRequests: 5, releases: [{ projectKey: 'web', flagKey: 'f', release: sampleRelease() }] })
    for (let i = 0; i < 12; i++) await send(server, 'GET', `/api/v2/flags/web/f/release?n=${i}`)
    assert.equal(server.requests.length, 5)
    assert.deepEqual(server.requests.map((r) => new URL(r.path, 'http://x').searchParams.get('n')), ['7', '8', '9', '10', '11'])
    const unbounded = await started(t, {})
    for (let i = 0; i < 3; i++) await send(unbounded, 'GET', '/api/v2/flags/web/f/release')
    assert.equal(unbounded.requests.length, 3, 'the default keeps more than a few')
  })

  test('answers 413 to a body over maxBodyBytes, keeping none of it', async (t) => {
    const server = await started(t, { maxBodyBytes: 1024, releases: [{ projectKey: 'web', flagKey: 'f', release: sampleRelease() }] })
    const patch = JSON.stringify([{ op: 'replace', path: '/phases/0/complete', value: true }])
    const big = JSON.stringify([{ op: 'replace', path: '/phases/0/complete', value: true, pad: 'x'.repeat(4096) }])
    const refused = await send(server, 'PATCH', '/api/v2/flags/web/f/release', big)
    assert.equal(refused.status, 413)
    assert.equal(refused.json.code, 'request_entity_too_large')
    assert.equal(server.getRelease('web', 'f').phases[0].complete, false, 'nothing was applied')
    const kept = server.requests.at(-1)
    assert.equal(kept.body, '', 'the body is not kept')
    assert.deepEqual([kept.method, kept.path, kept.headers['content-type']], ['PATCH', '/api/v2/flags/web/f/release', 'application/json'], 'the request is')
    assert.deepEqual(kept.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()).sort(), ['authorization', 'connection', 'content-length', 'content-type', 'host', 'ld-api-version'])
    const fine = await send(server, 'PATCH', '/api/v2/flags/web/f/release', patch)
    assert.equal(fine.status, 200)
    // The answer says the limit and closes the connection; a body of exactly the limit is read.
    const answer = await new Promise((resolve, reject) => {
      const req = request(`${server.url}/api/v2/flags/web/f/release`, { method: 'PATCH', headers: { authorization: server.apiKey, 'ld-api-version': 'beta', 'content-type': 'application/json' } }, (res) => {
        let text = ''
        res.on('data', (d) => (text += d))
        res.on('end', () => resolve({ headers: res.headers, text }))
      })
      req.on('error', reject)
      req.end('x'.repeat(1025))
    })
    assert.equal(answer.headers.connection, 'close')
    assert.deepEqual(JSON.parse(answer.text), { code: 'request_entity_too_large', message: 'The request body is larger than 1024 bytes' })
    const exact = await send(server, 'PATCH', '/api/v2/flags/web/f/release', patch.padEnd(1024, ' '))
    assert.equal(exact.status, 200)
    assert.equal(server.requests.at(-1).body.length, 1024, 'kept whole')
    // The default limit: 1 MiB.
    const byDefault = await started(t, { releases: [{ projectKey: 'web', flagKey: 'f', release: sampleRelease() }] })
    assert.equal((await send(byDefault, 'PATCH', '/api/v2/flags/web/f/release', 'x'.repeat(1024 * 1024 + 1))).status, 413)
    assert.equal((await send(byDefault, 'PATCH', '/api/v2/flags/web/f/release', patch.padEnd(1024 * 1024, ' '))).status, 200)
  })

  test('a phase PUT with audiences on a phase without _audiences is applied, not a 500', async (t) => {
    const release = sampleRelease()
    delete release.phases[2]._audiences
    const server = await started(t, { releases: [{ projectKey: 'web', flagKey: 'f', release }] })
    const id = release.phases[2]._id
    const answer = await send(server, 'PUT', `/api/v2/projects/web/flags/f/release/phases/${id}`, JSON.stringify({ status: 'Started', audiences: [{ audienceId: 'a1', notifyMemberIds: ['m'] }] }))
    assert.equal(answer.status, 200, JSON.stringify(answer.json))
    assert.equal(answer.json.phases[2].status, 'Started')
  })

  test('a write to a release without a numeric _version leaves it without one, never null', async (t) => {
    const release = sampleRelease()
    delete release._version
    const server = await started(t, { releases: [{ projectKey: 'web', flagKey: 'f', release }, { projectKey: 'web', flagKey: 'g', release: { ...sampleRelease(), _version: 'v1' } }] })
    const patched = await send(server, 'PATCH', '/api/v2/flags/web/f/release', JSON.stringify([{ op: 'replace', path: '/phases/0/complete', value: true }]))
    assert.equal(patched.status, 200)
    assert.equal('_version' in patched.json, false, JSON.stringify(patched.json._version))
    const put = await send(server, 'PUT', `/api/v2/projects/web/flags/f/release/phases/${release.phases[1]._id}`, JSON.stringify({ status: 'Started' }))
    assert.equal(put.status, 200)
    assert.equal('_version' in put.json, false)
    const other = await send(server, 'PATCH', '/api/v2/flags/web/g/release', JSON.stringify([{ op: 'replace', path: '/phases/0/complete', value: true }]))
    assert.equal(other.json._version, 'v1', 'a version that is not a number is left as it is')
    const counted = await started(t, { releases: [{ projectKey: 'web', flagKey: 'f', release: sampleRelease() }] })
    const before = counted.getRelease('web', 'f')._version
    const after = await send(counted, 'PATCH', '/api/v2/flags/web/f/release', JSON.stringify([{ op: 'replace', path: '/phases/0/complete', value: true }]))
    assert.equal(after.json._version, before + 1)
  })
})

test('a phase id holding quotes, backslashes, commas and combining marks filters progressions, read back by the fake', async (t) => {
  const { ld } = await import('./helpers.mjs')
  const ids = ['p"1\\x', 'e\u0308,2', 'plain']
  const pipeline = { ...sampleRelease(), key: 'weird', name: 'Weird', _isLegacy: true, phases: ids.map((id, i) => ({ id, name: `P${i}`, audiences: [] })) }
  const releaseAt = (index) => ({
    ...sampleRelease(),
    releasePipelineKey: 'weird',
    phases: ids.map((id, i) => ({ ...sampleRelease().phases[0], _id: id, _name: `P${i}`, complete: i < index })),
  })
  const server = await started(t, {
    pipelines: [{ projectKey: 'web', pipeline }],
    releases: ids.map((_, i) => ({ projectKey: 'web', flagKey: `at-${i}`, release: releaseAt(i) })),
  })
  const client = new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url, maxRetries: 0 })
  for (const [i, id] of ids.entries()) {
    const found = []
    for await (const progression of client.listReleaseProgressions('web', 'weird', { phase: { id } })) found.push(progression.flagKey)
    assert.deepEqual(found, [`at-${i}`], JSON.stringify(id))
  }
  const filter = new URL(server.requests.at(-3).path, 'http://x').searchParams.get('filter')
  assert.equal(filter, 'status equals "active",activePhaseId equals "p\\"1\\\\x"')
})
