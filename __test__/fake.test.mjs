// The fake LaunchDarkly of `ld-release/testing`, tested over HTTP on 127.0.0.1 with fetch.
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'

const require = createRequire(import.meta.url)
const { startFakeLaunchDarkly, sampleRelease } = require('../testing/index.js')

const KEY = 'api-fake-0123456789abcdef-4f2a'
const RELEASE = '/api/v2/flags/web/new-checkout/release'

/** A fake holding a sample release at web/new-checkout, closed after the test. */
async function start(t, options = {}) {
  const server = await startFakeLaunchDarkly({
    apiKey: KEY,
    releases: [{ projectKey: 'web', flagKey: 'new-checkout', release: sampleRelease() }],
    ...options,
  })
  t.after(() => server.close())
  return server
}

/** A request with the right token and beta header unless told otherwise; a body is sent as JSON. */
function call(server, method, path, { body, headers = {}, auth = true, beta = true, signal } = {}) {
  const h = { ...headers }
  if (auth) h.Authorization = server.apiKey
  if (beta) h['LD-API-Version'] = 'beta'
  let payload
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body)
    h['Content-Type'] ??= 'application/json'
  }
  return fetch(server.url + path, { method, headers: h, body: payload, signal })
}

async function json(res) {
  assert.equal(res.headers.get('content-type'), 'application/json')
  const text = await res.text()
  assert.equal(Number(res.headers.get('content-length')), Buffer.byteLength(text))
  return JSON.parse(text)
}

async function expectError(res, status, code) {
  assert.equal(res.status, status)
  const body = await json(res)
  assert.equal(body.code, code)
  assert.equal(typeof body.message, 'string')
  assert.ok(body.message.length > 0)
  return body
}

const patch = (server, ops, options = {}) => call(server, 'PATCH', RELEASE, { body: ops, ...options })
const complete = (n, value = true) => ({ op: 'replace', path: `/phases/${n}/complete`, value })

/** Sends with node:http, so that a header can be sent twice. */
function rawRequest(server, method, path, headers) {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.url}${path}`, { method, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('sampleRelease', () => {
  test('a complete, deterministic legacy three-phase release', () => {
    const release = sampleRelease()
    assert.deepEqual(sampleRelease(), release, 'same output every time')
    assert.equal(release.name, 'Standard rollout')
    assert.equal(release.releasePipelineKey, 'standard-rollout')
    assert.equal(typeof release.releasePipelineDescription, 'string')
    assert.equal(release._version, 1)
    assert.equal(release._releaseVariationId, null)
    assert.ok(!('_canceledAt' in release))
    assert.equal(typeof release._links.self.href, 'string')
    assert.deepEqual(
      release.phases.map((p) => [p._name, p.status, p.started, p._audiences[0].environment.key]),
      [
        ['Testing', 'Started', true, 'test'],
        ['Staging', 'NotStarted', false, 'staging'],
        ['Production', 'NotStarted', false, 'production'],
      ],
    )
    const ids = new Set()
    for (const phase of release.phases) {
      assert.match(phase._id, /^[0-9a-f]{24}$/)
      ids.add(phase._id)
      assert.equal(phase.complete, false)
      assert.ok(Number.isSafeInteger(phase._creationDate) && phase._creationDate > 1.7e12)
      assert.deepEqual(phase.configuration, {})
      for (const audience of phase._audiences) {
        assert.match(audience._id, /^[0-9a-f]{24}$/)
        ids.add(audience._id)
        assert.equal(typeof audience.name, 'string')
        assert.deepEqual(Object.keys(audience.environment).sort(), ['_links', 'color', 'key', 'name'])
        assert.deepEqual(audience.configuration, { releaseStrategy: 'immediate-rollout', requireApproval: false })
        assert.deepEqual(audience.segmentKeys, [])
        assert.equal(typeof audience.status, 'string')
      }
    }
    assert.equal(ids.size, 6, 'ids are unique')
    assert.equal(release.phases[0]._startedDate > release.phases[0]._creationDate, true)
  })

  test('overrides merge shallowly and the result is a fresh object', () => {
    const release = sampleRelease({ _version: 7, name: 'Other', _releaseVariationId: 'var-1' })
    assert.equal(release._version, 7)
    assert.equal(release.name, 'Other')
    assert.equal(release._releaseVariationId, 'var-1')
    assert.equal(release.phases.length, 3)
    release.phases[0]._name = 'changed'
    assert.equal(sampleRelease().phases[0]._name, 'Testing')
  })
})

describe('the server', () => {
  test('listens on 127.0.0.1 with a random api-fake token by default; close is idempotent', async () => {
    const server = await startFakeLaunchDarkly()
    try {
      assert.match(server.apiKey, /^api-fake-[0-9a-f]+$/)
      assert.equal(server.url, `http://127.0.0.1:${server.port}`)
      assert.ok(server.port > 0)
      assert.deepEqual(server.requests, [])
      assert.equal(server.rateLimited, 0)
      const res = await call(server, 'GET', RELEASE)
      await expectError(res, 404, 'not_found')
    } finally {
      const first = server.close()
      await Promise.all([first, server.close()])
      await server.close()
    }
    await assert.rejects(fetch(server.url + RELEASE), TypeError, 'nothing listens after close')
  })

  test('setRelease, getRelease and deleteRelease work on deep copies', async (t) => {
    const server = await start(t, { releases: [] })
    const release = sampleRelease()
    server.setRelease('web', 'a/b?c#d', release)
    release.name = 'changed after set'
    const held = server.getRelease('web', 'a/b?c#d')
    assert.equal(held.name, 'Standard rollout')
    held.phases[0].complete = true
    assert.equal(server.getRelease('web', 'a/b?c#d').phases[0].complete, false)
    assert.equal(server.getRelease('web', 'other'), undefined)
    const res = await call(server, 'GET', '/api/v2/flags/web/a%2Fb%3Fc%23d/release')
    assert.equal(res.status, 200)
    assert.equal((await json(res)).name, 'Standard rollout')
    assert.equal(server.requests[0].path, '/api/v2/flags/web/a%2Fb%3Fc%23d/release', 'recorded as sent')
    assert.equal(server.deleteRelease('web', 'a/b?c#d'), true)
    assert.equal(server.deleteRelease('web', 'a/b?c#d'), false)
    await expectError(await call(server, 'GET', '/api/v2/flags/web/a%2Fb%3Fc%23d/release'), 404, 'not_found')
  })

  test('records every request: method, raw path, headers, raw headers, body and parsed JSON', async (t) => {
    const server = await start(t)
    await call(server, 'GET', `${RELEASE}?x=1`, { headers: { 'X-Extra': 'one' } })
    await call(server, 'PATCH', RELEASE, { body: 'not json' })
    const [get, bad] = server.requests
    assert.equal(get.method, 'GET')
    assert.equal(get.path, `${RELEASE}?x=1`)
    assert.equal(get.headers.authorization, KEY)
    assert.equal(get.headers['ld-api-version'], 'beta')
    assert.equal(get.headers['x-extra'], 'one')
    assert.equal(get.body, '')
    assert.ok(!('json' in get))
    assert.ok(get.rawHeaders.includes('LD-API-Version') || get.rawHeaders.includes('ld-api-version'))
    assert.ok(Math.abs(get.receivedAt - Date.now()) < 5000)
    assert.equal(bad.body, 'not json')
    assert.ok(!('json' in bad))
    server.clearRequests()
    assert.equal(server.requests.length, 0)
  })
})

describe('auth, beta header and 404s', () => {
  test('401 without Authorization, with a wrong token, and with Bearer', async (t) => {
    const server = await start(t)
    await expectError(await call(server, 'GET', RELEASE, { auth: false }), 401, 'unauthorized')
    const wrong = await expectError(await call(server, 'GET', RELEASE, { auth: false, headers: { Authorization: 'api-wrong' } }), 401, 'unauthorized')
    assert.equal(wrong.message, 'Invalid access token')
    await expectError(await call(server, 'GET', RELEASE, { auth: false, headers: { Authorization: `Bearer ${KEY}` } }), 401, 'unauthorized')
    // Auth comes before routing: an unknown path without a token is a 401 too.
    await expectError(await call(server, 'GET', '/api/v2/nothing', { auth: false }), 401, 'unauthorized')
    assert.equal(server.requests.length, 4)
  })

  test('403 without LD-API-Version: beta; the first of two values counts', async (t) => {
    const server = await start(t)
    const missing = await expectError(await call(server, 'GET', RELEASE, { beta: false }), 403, 'forbidden')
    assert.match(missing.message, /This API is in beta.*LD-API-Version.*beta/)
    await expectError(await call(server, 'GET', RELEASE, { beta: false, headers: { 'LD-API-Version': '20240415' } }), 403, 'forbidden')
    const twiceBad = await rawRequest(server, 'GET', RELEASE, { Authorization: KEY, 'LD-API-Version': ['20240415', 'beta'] })
    assert.equal(twiceBad.status, 403)
    const twiceGood = await rawRequest(server, 'GET', RELEASE, { Authorization: KEY, 'LD-API-Version': ['beta', '20240415'] })
    assert.equal(twiceGood.status, 200)
    const recorded = server.requests.at(-1)
    assert.equal(recorded.rawHeaders.filter((h) => h.toLowerCase() === 'ld-api-version').length, 2)
    assert.equal(recorded.headers['ld-api-version'], 'beta, 20240415')
  })

  test('requireBetaHeader: false accepts requests without it', async (t) => {
    const server = await start(t, { requireBetaHeader: false })
    assert.equal((await call(server, 'GET', RELEASE, { beta: false })).status, 200)
  })

  test('404 not_found for unknown paths, projects, flags, releases and phases', async (t) => {
    const server = await start(t)
    const phase = `/api/v2/projects/web/flags/new-checkout/release/phases`
    for (const [method, path] of [
      ['GET', '/'],
      ['GET', '/api/v2/flags/web/no-such-flag'],
      ['GET', '/api/v2/flags/web/new-checkout/release/extra'],
      ['GET', '/api/v2/flags//new-checkout/release'],
      ['GET', '/api/v2/flags/other/new-checkout/release'],
      ['GET', '/api/v2/flags/web/unknown/release'],
      ['DELETE', '/api/v2/flags/web/unknown/release'],
      ['PUT', `${phase}/000000000000000000000000`],
    ]) {
      const res = await call(server, method, path, method === 'PUT' ? { body: { status: 'Started' } } : {})
      await expectError(res, 404, 'not_found')
    }
    server.deleteRelease('web', 'new-checkout')
    await expectError(await call(server, 'GET', RELEASE), 404, 'not_found')
    await expectError(await patch(server, [complete(0)]), 404, 'not_found')
    await expectError(await call(server, 'PUT', `${phase}/${sampleRelease().phases[0]._id}`, { body: { status: 'Started' } }), 404, 'not_found')
  })

  test('a method the route does not have is 405', async (t) => {
    const server = await start(t)
    await expectError(await call(server, 'POST', RELEASE, { body: [complete(0)] }), 405, 'method_not_allowed')
    await expectError(await call(server, 'GET', '/api/v2/projects/web/flags/new-checkout/release'), 405, 'method_not_allowed')
    // A JSON Patch goes to the release route only: not to the create route nor a phase.
    await expectError(await call(server, 'PATCH', '/api/v2/projects/web/flags/new-checkout/release', { body: [complete(0)] }), 405, 'method_not_allowed')
    const phase = `/api/v2/projects/web/flags/new-checkout/release/phases/${sampleRelease().phases[0]._id}`
    await expectError(await call(server, 'PATCH', phase, { body: [complete(0)] }), 405, 'method_not_allowed')
    assert.equal(server.getRelease('web', 'new-checkout')._version, 1)
  })
})

describe('PATCH', () => {
  test('completing a phase sets its fields, starts the next one and bumps _version', async (t) => {
    const server = await start(t)
    const before = Date.now()
    const ops = [complete(0)]
    const res = await patch(server, ops)
    assert.equal(res.status, 200)
    const release = await json(res)
    assert.equal(release._version, 2)
    const [first, second, third] = release.phases
    assert.equal(first.complete, true)
    assert.equal(first.status, 'Complete')
    assert.ok(first._completionDate >= before && first._completionDate <= Date.now())
    assert.equal(first._completedBy.token.name, 'fake token')
    assert.equal(first._completedBy.token.ending, KEY.slice(-4))
    assert.equal(first._completedBy.token.serviceToken, false)
    assert.equal(typeof first._completedBy.token._id, 'string')
    assert.deepEqual(first._completedBy.token._links, {})
    assert.equal(second.started, true)
    assert.equal(second.status, 'Started')
    assert.ok(second._startedDate >= before)
    assert.equal(third.started, false)
    assert.deepEqual(server.getRelease('web', 'new-checkout'), release)

    const [recorded] = server.requests
    assert.equal(recorded.method, 'PATCH')
    assert.equal(recorded.path, RELEASE)
    assert.equal(recorded.body, JSON.stringify(ops))
    assert.deepEqual(recorded.json, ops)
    assert.equal(recorded.headers['content-type'], 'application/json')
    const names = recorded.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    assert.equal(names.filter((n) => n === 'authorization').length, 1)
    assert.equal(names.filter((n) => n === 'ld-api-version').length, 1)

    const reopened = await json(await patch(server, [complete(0, false)]))
    assert.equal(reopened._version, 3)
    assert.equal(reopened.phases[0].complete, false)
    assert.equal(reopened.phases[0].status, 'Started')
    assert.ok(!('_completionDate' in reopened.phases[0]))
    assert.ok(!('_completedBy' in reopened.phases[0]))
    assert.equal(reopened.phases[1].started, true, 'the next phase stays started')
  })

  test('several operations apply together; test operations guard them', async (t) => {
    const server = await start(t)
    const id = sampleRelease().phases[1]._id
    const res = await patch(server, [
      { op: 'test', path: '/phases/1/_id', value: id },
      { op: 'test', path: '/phases/1/complete', value: false },
      complete(1),
      complete(2),
    ])
    const release = await json(res)
    assert.equal(release._version, 2, 'one bump per request')
    assert.deepEqual(
      release.phases.map((p) => p.complete),
      [false, true, true],
    )
  })

  test('a POST with X-HTTP-Method-Override: PATCH is a PATCH', async (t) => {
    const server = await start(t)
    const res = await call(server, 'POST', RELEASE, { body: [complete(2)], headers: { 'X-HTTP-Method-Override': 'PATCH' } })
    assert.equal(res.status, 200)
    assert.equal((await json(res)).phases[2].complete, true)
    assert.equal(server.requests[0].method, 'POST')
    assert.equal(server.requests[0].headers['x-http-method-override'], 'PATCH')
  })

  test('each invalid patch is a 400 invalid_request that says what is wrong and changes nothing', async (t) => {
    const server = await start(t)
    const original = server.getRelease('web', 'new-checkout')
    const cases = [
      ['not JSON', '[{"op":', /not valid JSON/],
      ['an object', { op: 'replace', path: '/phases/0/complete', value: true }, /JSON Patch array/],
      ['the documented envelope', { comment: 'c', patch: [complete(0)] }, /JSON Patch array/],
      ['empty', [], /empty/],
      ['an operation that is not an object', [5], /not an object/],
      ['add', [{ op: 'add', path: '/phases/0/complete', value: true }], /op "add" is not supported/],
      ['remove', [{ op: 'remove', path: '/phases/0/complete' }], /op "remove" is not supported/],
      ['no op', [{ path: '/phases/0/complete', value: true }], /op undefined is not supported/],
      ['another path', [{ op: 'replace', path: '/name', value: 'x' }], /path "\/name" cannot be changed/],
      ['the prose path', [{ op: 'replace', path: '/phase/0/complete', value: true }], /cannot be changed/],
      ['a leading zero', [{ op: 'replace', path: '/phases/01/complete', value: true }], /cannot be changed/],
      ['replace of _id', [{ op: 'replace', path: '/phases/0/_id', value: 'x' }], /cannot be changed/],
      ['no value', [{ op: 'replace', path: '/phases/0/complete' }], /value is required/],
      ['a string value', [complete(0, 'true')], /value must be a boolean/],
      ['a null value', [complete(0, null)], /value must be a boolean/],
      ['an index out of range', [complete(3)], /there is no phase 3/],
      ['a failing test', [{ op: 'test', path: '/phases/0/complete', value: true }, complete(1)], /test failed/],
      ['a failing id test', [{ op: 'test', path: '/phases/1/_id', value: 'other' }, complete(1)], /test failed/],
      ['an id test of a phase past the end', [{ op: 'test', path: '/phases/10/_id', value: 'x' }], /^operation 0: there is no phase 10; the release has 3 phases$/],
      ['a valid op then a bad one', [complete(0), complete(1, 1)], /operation 1: value must be a boolean/],
    ]
    for (const [name, body, pattern] of cases) {
      const error = await expectError(await patch(server, body), 400, 'invalid_request')
      assert.match(error.message, pattern, name)
    }
    const textPlain = await patch(server, [complete(0)], { headers: { 'Content-Type': 'text/plain' } })
    assert.match((await expectError(textPlain, 400, 'invalid_request')).message, /Content-Type must be application\/json/)
    const jsonPatchType = await patch(server, [complete(0)], { headers: { 'Content-Type': 'application/json-patch+json' } })
    await expectError(jsonPatchType, 400, 'invalid_request')
    const noType = await fetch(server.url + RELEASE, {
      method: 'PATCH',
      headers: { Authorization: KEY, 'LD-API-Version': 'beta' },
      body: new Blob([JSON.stringify([complete(0)])]),
    })
    await expectError(noType, 400, 'invalid_request')
    assert.deepEqual(server.getRelease('web', 'new-checkout'), original, 'nothing was applied')
    // application/json with a charset is fine.
    const charset = await patch(server, [complete(0)], { headers: { 'Content-Type': 'application/json; charset=utf-8' } })
    assert.equal(charset.status, 200)
  })
})

describe('DELETE and the projects/ PUTs', () => {
  test('DELETE answers 204 without a body and removes the release', async (t) => {
    const server = await start(t)
    const res = await call(server, 'DELETE', RELEASE)
    assert.equal(res.status, 204)
    assert.equal(await res.text(), '')
    assert.equal(server.getRelease('web', 'new-checkout'), undefined)
    await expectError(await call(server, 'DELETE', RELEASE), 404, 'not_found')
  })

  test('PUT projects/{p}/flags/{f}/release creates a release with the chosen pipeline\'s phases; an unknown pipeline is 404', async (t) => {
    const server = await start(t, { releases: [] })
    const path = '/api/v2/projects/web/flags/a%2Fb/release'
    for (const body of [{}, { releasePipelineKey: 5 }, { releasePipelineKey: '' }, [], { releasePipelineKey: 'p', releaseVariationId: 3 }]) {
      await expectError(await call(server, 'PUT', path, { body }), 400, 'invalid_request')
    }
    await expectError(await call(server, 'PUT', path, { body: '{', headers: {} }), 400, 'invalid_request')
    await expectError(await call(server, 'PUT', path, { body: { releasePipelineKey: 'no-such-pipeline' } }), 404, 'not_found')
    assert.equal(server.getRelease('web', 'a/b'), undefined)
    // A legacy pipeline made through the fake: its phases, ids and environments.
    const made = await call(server, 'POST', '/api/v2/projects/web/release-pipelines', {
      body: {
        key: 'fast-lane',
        name: 'Fast lane',
        isLegacy: true,
        phases: [
          { name: 'Canary', audiences: [{ name: 'Canary', environmentKey: 'canary' }] },
          { name: 'Everyone', audiences: [{ name: 'Production', environmentKey: 'production' }] },
        ],
      },
    })
    assert.equal(made.status, 201)
    const pipeline = await json(made)
    // Environments carry every field the samples' have.
    assert.deepEqual(Object.keys(pipeline.phases[0].audiences[0].environment).sort(), ['color', 'key', 'name'])
    assert.deepEqual(pipeline.phases[1].audiences[0].environment, { key: 'production', name: 'Production', color: '417505' })
    assert.match(pipeline.phases[0].audiences[0].environment.color, /^[0-9a-f]{6}$/)
    const res = await call(server, 'PUT', path, { body: { releasePipelineKey: 'fast-lane', releaseVariationId: 'var-on' } })
    assert.equal(res.status, 200)
    const release = await json(res)
    assert.equal(release.releasePipelineKey, 'fast-lane')
    assert.equal(release.name, 'Fast lane')
    assert.equal(release._releaseVariationId, 'var-on')
    assert.equal(release._version, 1)
    assert.deepEqual(
      release.phases.map((p) => [p._id, p._name, p.complete, p._audiences[0].environment.key]),
      pipeline.phases.map((p) => [p.id, p.name, false, p.audiences[0].environment.key]),
    )
    assert.equal(release._links.self.href, '/api/v2/flags/web/a%2Fb/release')
    assert.deepEqual(server.getRelease('web', 'a/b'), release)
    const plain = await json(await call(server, 'PUT', '/api/v2/projects/web/flags/c/release', { body: { releasePipelineKey: 'standard-rollout' } }))
    assert.equal(plain._releaseVariationId, null)
    assert.deepEqual(
      plain.phases.map((p) => p._id),
      sampleRelease().phases.map((p) => p._id),
    )
  })

  test('PUT .../release/phases/{id} updates that phase', async (t) => {
    const server = await start(t)
    const [, staging, production] = sampleRelease().phases
    const path = (id) => `/api/v2/projects/web/flags/new-checkout/release/phases/${id}`
    const started = await json(
      await call(server, 'PUT', path(staging._id), {
        body: {
          status: 'Started',
          audiences: [
            { audienceId: staging._audiences[0]._id, notifyTeamKeys: ['qa'] },
            { audienceId: 'unknown', notifyMemberIds: ['m1'] },
          ],
        },
      }),
    )
    assert.equal(started._version, 2)
    assert.equal(started.phases[1].status, 'Started')
    assert.equal(started.phases[1].started, true)
    assert.equal(typeof started.phases[1]._startedDate, 'number')
    assert.deepEqual(started.phases[1]._audiences[0].configuration, {
      ...staging._audiences[0].configuration,
      notifyTeamKeys: ['qa'],
    }, 'an audience id the phase does not have configures nothing')

    const done = await json(await call(server, 'PUT', path(production._id), { body: { status: 'Complete' } }))
    assert.equal(done._version, 3)
    assert.equal(done.phases[2].complete, true)
    assert.equal(done.phases[2].status, 'Complete')
    assert.equal(typeof done.phases[2]._completionDate, 'number')
    assert.equal(done.phases[2]._completedBy.token.ending, KEY.slice(-4))

    const paused = await json(await call(server, 'PUT', path(production._id), { body: { status: 'Paused' } }))
    assert.equal(paused.phases[2].status, 'Paused')
    assert.equal(paused.phases[2].complete, false)

    await expectError(await call(server, 'PUT', path('ffffffffffffffffffffffff'), { body: { status: 'Started' } }), 404, 'not_found')
    for (const body of [{ status: 'Sideways' }, { status: 1 }, { audiences: 'all' }, { audiences: [1] }, []]) {
      await expectError(await call(server, 'PUT', path(staging._id), { body }), 400, 'invalid_request')
    }
    assert.equal(server.getRelease('web', 'new-checkout')._version, 4)
  })

  test('PUT .../release/phases/{id}: audiences of a phase that has none configure nothing, and none given leaves them alone', async (t) => {
    const release = sampleRelease()
    delete release.phases[1]._audiences // a phase not started has no audiences to configure
    release.phases[2]._audiences[0] = { name: 'Production' } // an audience with no id nor configuration
    const server = await start(t, { releases: [{ projectKey: 'web', flagKey: 'new-checkout', release }] })
    const path = (n) => `/api/v2/projects/web/flags/new-checkout/release/phases/${release.phases[n]._id}`
    const staged = await json(await call(server, 'PUT', path(1), { body: { status: 'Started', audiences: [{}, { audienceId: 'x', notifyTeamKeys: ['qa'] }] } }))
    assert.equal(staged.phases[1].status, 'Started')
    assert.equal(staged.phases[1]._audiences, undefined)
    const produced = await json(await call(server, 'PUT', path(2), { body: { status: 'Paused' } }))
    assert.deepEqual(produced.phases[2]._audiences, [{ name: 'Production' }], 'no audiences given: none is configured')
    assert.equal(produced._version, 3)
  })
})

describe('rate limit', () => {
  test('headers on every answer of a limited route, 429 over the limit, a new window after the reset', async (t) => {
    const server = await start(t, { rateLimit: { limit: 2, windowMs: 300 } })
    const answers = []
    for (let i = 0; i < 3; i++) answers.push(await call(server, 'GET', RELEASE))
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 429],
    )
    assert.deepEqual(
      answers.map((r) => r.headers.get('x-ratelimit-route-remaining')),
      ['1', '0', '0'],
    )
    for (const r of answers) assert.ok(r.headers.has('x-ratelimit-global-remaining'))
    const reset = Number(answers[0].headers.get('x-ratelimit-reset'))
    assert.ok(reset > Date.now() - 50 && reset <= Date.now() + 300, `reset ${reset} is the end of a 300 ms window`)
    assert.equal(answers[2].headers.get('x-ratelimit-reset'), String(reset))
    const limited = await expectError(answers[2], 429, 'rate_limited')
    assert.ok(limited.message.length > 0)
    await Promise.all(answers.slice(0, 2).map((r) => r.text()))
    assert.equal(server.rateLimited, 1)
    assert.equal(server.requests.length, 3, '429s are recorded too')

    // Per route: PATCH has its own counter; a 401 on a limited route still carries the headers.
    const other = await patch(server, [complete(0)])
    assert.equal(other.status, 200)
    assert.equal(other.headers.get('x-ratelimit-route-remaining'), '1')
    await other.text()

    await sleep(Math.max(0, reset - Date.now()) + 20)
    const again = await call(server, 'GET', RELEASE, { auth: false })
    await expectError(again, 401, 'unauthorized')
    assert.equal(again.headers.get('x-ratelimit-route-remaining'), '1')
    assert.ok(Number(again.headers.get('x-ratelimit-reset')) >= reset + 300)
    assert.equal(server.rateLimited, 1)
  })

  test('without rateLimit there are no rate-limit headers', async (t) => {
    const server = await start(t)
    const res = await call(server, 'GET', RELEASE)
    assert.equal(res.headers.get('x-ratelimit-route-remaining'), null)
    assert.equal(res.headers.get('x-ratelimit-reset'), null)
    await res.text()
  })
})

describe('faults', () => {
  test('a status fault with an HTML body, applied to matching requests only, before auth, then used up', async (t) => {
    const server = await start(t)
    const html = '<html><body><h1>502 Bad Gateway</h1></body></html>'
    server.injectFault({ match: { method: 'GET', path: '/api/v2/flags/web/a/b/release' }, status: 502, body: html, times: 2 })
    // Neither a PATCH nor another flag matches.
    assert.equal((await patch(server, [complete(0)])).status, 200)
    await expectError(await call(server, 'GET', '/api/v2/flags/web/other/release'), 404, 'not_found')
    for (let i = 0; i < 2; i++) {
      const res = await call(server, 'GET', '/api/v2/flags/web/a%2Fb/release', { auth: false })
      assert.equal(res.status, 502)
      assert.equal(res.headers.get('content-type'), 'text/html')
      assert.equal(await res.text(), html)
    }
    await expectError(await call(server, 'GET', '/api/v2/flags/web/a%2Fb/release', { auth: false }), 401, 'unauthorized')
    assert.equal(server.requests.length, 5)
  })

  test('a status fault: LaunchDarkly-style JSON by default, extra headers, other bodies and types', async (t) => {
    const server = await start(t, { rateLimit: { limit: 100 } })
    server.injectFault({ status: 429, headers: { 'Retry-After': 1, 'X-Ratelimit-Reset': 1764300000500 } })
    const limited = await call(server, 'GET', RELEASE)
    await expectError(limited, 429, 'rate_limited')
    assert.equal(limited.headers.get('retry-after'), '1')
    assert.equal(limited.headers.get('x-ratelimit-reset'), '1764300000500')
    assert.equal(server.rateLimited, 0, 'an injected 429 is not the rate limit')
    server.injectFault({ status: 503 })
    await expectError(await call(server, 'GET', RELEASE), 503, 'internal_server_error')
    server.injectFault({ status: 409, body: { code: 'optimistic_locking_error', message: 'retry' } })
    assert.deepEqual(await (await call(server, 'GET', RELEASE)).json(), { code: 'optimistic_locking_error', message: 'retry' })
    server.injectFault({ status: 500, body: 'oops' })
    const plain = await call(server, 'GET', RELEASE)
    assert.equal(plain.headers.get('content-type'), 'text/plain')
    assert.equal(await plain.text(), 'oops')
    server.injectFault({ status: 500, body: '', contentType: 'application/problem+json' })
    const empty = await call(server, 'GET', RELEASE)
    assert.equal(empty.headers.get('content-type'), 'application/problem+json')
    assert.equal(await empty.text(), '')
  })

  test('a delay, then the request is handled normally', async (t) => {
    const server = await start(t)
    server.injectFault({ delayMs: 200, headers: { 'X-Slow': 'yes' } })
    const begin = performance.now()
    const res = await patch(server, [complete(0)])
    const elapsed = performance.now() - begin
    assert.ok(elapsed >= 190, `waited ${elapsed} ms`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-slow'), 'yes')
    assert.equal((await json(res))._version, 2)
    server.injectFault({ delayMs: 100, status: 504, body: '<html>timeout</html>' })
    const late = await call(server, 'GET', RELEASE)
    assert.equal(late.status, 504)
    assert.equal(late.headers.get('content-type'), 'text/html')
    await late.text()
  })

  test('drop before-response: the connection closes without an answer', async (t) => {
    const server = await start(t)
    server.injectFault({ drop: 'before-response' })
    await assert.rejects(call(server, 'GET', RELEASE), TypeError)
    assert.equal(server.requests.length, 1, 'recorded')
    assert.equal((await call(server, 'GET', RELEASE)).status, 200, 'used up')
  })

  test('drop mid-body: headers and part of the body, then the connection closes', async (t) => {
    const server = await start(t)
    server.injectFault({ drop: 'mid-body' })
    const res = await call(server, 'GET', RELEASE)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    await assert.rejects(res.text(), TypeError)
  })

  test('malformed: 200 application/json that is not JSON', async (t) => {
    const server = await start(t)
    server.injectFault({ malformed: true })
    const res = await call(server, 'GET', RELEASE)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    const text = await res.text()
    assert.ok(text.length > 0)
    assert.throws(() => JSON.parse(text), SyntaxError)
  })

  test('oversize: a 17 MiB JSON body streamed in chunks', async (t) => {
    const server = await start(t)
    const size = 17 * 1024 * 1024
    server.injectFault({ oversizeBytes: size })
    const res = await call(server, 'GET', RELEASE)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.equal(res.headers.get('content-length'), null)
    let received = 0
    let chunks = 0
    let last
    for await (const chunk of res.body) {
      received += chunk.length
      chunks++
      last = chunk
    }
    assert.ok(received > 16 * 1024 * 1024, `received ${received} bytes`)
    assert.ok(Math.abs(received - size) < 64, `about ${size} bytes: ${received}`)
    assert.ok(chunks > 1)
    assert.equal(Buffer.from(last).toString('latin1').slice(-2), '"}')
  })

  test('oversize: ends when the client aborts, and the fake keeps serving', async (t) => {
    const server = await start(t)
    server.injectFault({ oversizeBytes: 64 * 1024 * 1024 })
    const controller = new AbortController()
    const res = await call(server, 'GET', RELEASE, { signal: controller.signal })
    let received = 0
    await assert.rejects(async () => {
      for await (const chunk of res.body) {
        received += chunk.length
        if (received > 1024 * 1024) controller.abort()
      }
    }, { name: 'AbortError' })
    assert.ok(received < 64 * 1024 * 1024)
    const next = await call(server, 'GET', RELEASE)
    assert.equal(next.status, 200)
    await next.text()
  })

  test('trickle: a valid body a few bytes at a time', async (t) => {
    const server = await start(t)
    server.injectFault({ trickleMs: 2 })
    const begin = performance.now()
    const res = await call(server, 'GET', RELEASE)
    assert.equal(res.status, 200)
    let text = ''
    let chunks = 0
    const decoder = new TextDecoder()
    for await (const chunk of res.body) {
      chunks++
      text += decoder.decode(chunk, { stream: true })
    }
    const elapsed = performance.now() - begin
    assert.deepEqual(JSON.parse(text), server.getRelease('web', 'new-checkout'))
    assert.ok(chunks > 20, `${chunks} chunks`)
    assert.ok(elapsed >= (text.length / 16) * 1.5, `took ${elapsed} ms`)
  })

  test('stall: accepts the request, sends nothing, then closes', async (t) => {
    const server = await start(t)
    server.injectFault({ stallMs: 300 })
    const begin = performance.now()
    await assert.rejects(call(server, 'GET', RELEASE), TypeError)
    const elapsed = performance.now() - begin
    assert.ok(elapsed >= 290, `closed after ${elapsed} ms`)
    assert.equal(server.requests.length, 1)
  })

  test('close() ends a pending stall and open connections at once', async () => {
    const server = await startFakeLaunchDarkly({ apiKey: KEY, releases: [{ projectKey: 'web', flagKey: 'new-checkout', release: sampleRelease() }] })
    try {
      server.injectFault({ stallMs: 5000 })
      const pending = call(server, 'GET', RELEASE)
      while (server.requests.length === 0) await sleep(5)
      const begin = performance.now()
      await server.close()
      await assert.rejects(pending, TypeError)
      assert.ok(performance.now() - begin < 1000)
    } finally {
      await server.close()
    }
  })
})

describe('new release pipelines', () => {
  const { sampleNewPipelineRelease, samplePipeline, sampleNewPipeline } = require('../testing/index.js')
  const NEW = '/api/v2/flags/web/fresh/release'
  const phasePath = (id) => `/api/v2/projects/web/flags/fresh/release/phases/${id}`
  const startNew = (t, options) =>
    start(t, { releases: [{ projectKey: 'web', flagKey: 'fresh', release: sampleNewPipelineRelease() }], ...options })

  test('pipelines answer with _isLegacy; an unknown one is 404', async (t) => {
    const server = await startNew(t)
    assert.deepEqual(await json(await call(server, 'GET', '/api/v2/projects/web/release-pipelines/standard-rollout')), samplePipeline())
    const fresh = await json(await call(server, 'GET', '/api/v2/projects/any/release-pipelines/progressive-rollout'))
    assert.equal(fresh._isLegacy, false)
    assert.match(fresh.createdAt, /^\d{4}-\d\d-\d\dT/)
    assert.deepEqual(fresh.phases.map((p) => p.id), sampleNewPipelineRelease().phases.map((p) => p._id))
    await expectError(await call(server, 'GET', '/api/v2/projects/web/release-pipelines/nope'), 404, 'not_found')
    await expectError(await call(server, 'GET', '/api/v2/projects/web/release-pipelines/nope', { beta: false }), 403, 'forbidden')
    await expectError(await call(server, 'POST', '/api/v2/projects/web/release-pipelines/standard-rollout'), 405, 'method_not_allowed')
    const refused = await expectError(await call(server, 'DELETE', '/api/v2/projects/web/release-pipelines/standard-rollout'), 400, 'invalid_request')
    assert.match(refused.message, /default release pipeline/)
  })

  test('unstarted phases are sparse; the PATCH is refused with 400 and changes nothing', async (t) => {
    const server = await startNew(t)
    const release = await json(await call(server, 'GET', NEW))
    assert.deepEqual(Object.keys(release.phases[1]).sort(), ['_id', '_name', 'complete', 'started', 'status'])
    assert.equal(release.phases[0].status, 'active')
    assert.equal(release.phases[0]._audiences[0].environment._links, undefined)
    assert.equal(release._links, undefined)
    const body = await expectError(await call(server, 'PATCH', NEW, { body: [complete(0)] }), 400, 'invalid_request')
    assert.match(body.message, /legacy release pipeline/)
    assert.deepEqual(server.getRelease('web', 'fresh'), sampleNewPipelineRelease())
  })

  test('only active (any case) is accepted; starting a phase completes every earlier one', async (t) => {
    const server = await startNew(t)
    const ids = sampleNewPipelineRelease().phases.map((p) => p._id)
    for (const status of ['completed', 'Complete', 'Started', 'paused', 7, undefined]) {
      const body = await expectError(await call(server, 'PUT', phasePath(ids[1]), { body: { status } }), 400, 'invalid_request')
      assert.equal(body.message, 'Phase status can only be manually updated to `Active`.')
    }
    assert.deepEqual(server.getRelease('web', 'fresh'), sampleNewPipelineRelease(), 'refusals change nothing')
    const after = await json(await call(server, 'PUT', phasePath(ids[2]), { body: { status: 'ACTIVE' } }))
    assert.deepEqual(after.phases.map((p) => [p.status, p.complete, p.started]), [
      ['completed', true, true],
      ['completed', true, true],
      ['active', false, true],
    ])
    assert.equal(typeof after.phases[1]._completionDate, 'number')
    assert.equal(after.phases[2]._audiences[0].environment.key, 'production')
    assert.deepEqual(Object.keys(after.phases[2]).sort(), Object.keys(sampleNewPipelineRelease().phases[0]).sort(), 'the phase started is only started: no completion fields')
    assert.equal(after._version, 1)
    const again = await expectError(await call(server, 'PUT', phasePath(ids[0]), { body: { status: 'active' } }), 400, 'invalid_request')
    assert.match(again.message, /already completed/)
  })

  test('starting a phase completes an earlier started phase that shows no audiences', async (t) => {
    const release = sampleNewPipelineRelease()
    delete release.phases[0]._audiences
    const server = await startNew(t, { releases: [{ projectKey: 'web', flagKey: 'fresh', release }] })
    const after = await json(await call(server, 'PUT', phasePath(release.phases[1]._id), { body: { status: 'active' } }))
    assert.deepEqual(after.phases.map((p) => p.status), ['completed', 'active', 'not-started'])
    assert.equal(after.phases[0]._audiences, undefined)
  })

  test('a release created in a new pipeline starts ready-to-start and sparse; pipelines can be given', async (t) => {
    const custom = sampleNewPipeline({ key: 'quick', name: 'Quick', phases: [{ id: 'q1', name: 'One' }, { id: 'q2', name: 'Two' }] })
    const server = await start(t, { pipelines: [{ projectKey: 'web', pipeline: custom }] })
    const created = await json(await call(server, 'PUT', '/api/v2/projects/web/flags/f/release', { body: { releasePipelineKey: 'quick' } }))
    assert.deepEqual(created.phases, [
      { _id: 'q1', _name: 'One', complete: false, status: 'ready-to-start', started: false },
      { _id: 'q2', _name: 'Two', complete: false, status: 'not-started', started: false },
    ])
    assert.equal(created._version, 0)
    // With pipelines given, the sample ones are not served: standard-rollout is unknown here.
    await expectError(await call(server, 'GET', '/api/v2/projects/web/release-pipelines/standard-rollout'), 404, 'not_found')
    assert.equal((await call(server, 'PATCH', RELEASE, { body: [complete(0)] })).status, 200, 'releases of unknown pipelines behave as legacy')
    const legacyPhase = `/api/v2/projects/web/flags/new-checkout/release/phases/${sampleRelease().phases[2]._id}`
    const paused = await json(await call(server, 'PUT', legacyPhase, { body: { status: 'Paused' } }))
    assert.equal(paused.phases[2].status, 'Paused', 'their phase-status PUT too')
  })
})

describe('release pipelines and progressions', () => {
  const { sampleNewPipelineRelease } = require('../testing/index.js')
  const LIST = '/api/v2/projects/web/release-pipelines'
  const input = (key, extra = {}) => ({
    key,
    name: `Pipeline ${key}`,
    phases: [
      { name: 'One', audiences: [{ environmentKey: 'test', name: 'Test' }] },
      { name: 'Two', audiences: [{ environmentKey: 'production', name: 'Production' }] },
    ],
    ...extra,
  })

  test('pipelines are listed a page at a time, created, updated and deleted', async (t) => {
    const server = await start(t)
    for (let i = 0; i < 5; i++) {
      const res = await call(server, 'POST', LIST, { body: input(`p${i}`, { isLegacy: i === 0 }) })
      assert.equal(res.status, 201)
    }
    const first = await json(await call(server, 'GET', `${LIST}?limit=3`))
    assert.equal(first.totalCount, 7)
    assert.deepEqual(first.items.map((p) => p.key), ['standard-rollout', 'progressive-rollout', 'p0'])
    const rest = await json(await call(server, 'GET', `${LIST}?limit=3&offset=6`))
    assert.deepEqual(rest.items.map((p) => p.key), ['p4'])
    await expectError(await call(server, 'GET', `${LIST}?limit=0`), 400, 'invalid_request')
    await expectError(await call(server, 'POST', LIST, { body: input('p1') }), 409, 'conflict')
    await expectError(await call(server, 'POST', LIST, { body: { key: 'x', name: 'X', phases: [] } }), 400, 'invalid_request')
    const p0 = await json(await call(server, 'GET', `${LIST}/p0`))
    assert.equal(p0._isLegacy, true)
    assert.equal(p0._version, 0, 'a created pipeline is at version 0')
    assert.equal(p0.phases[1].audiences[0].environment.key, 'production')
    const updated = await json(await call(server, 'PUT', `${LIST}/p1`, { body: { name: 'Renamed', phases: input('p1').phases.slice(0, 1) } }))
    assert.equal(updated.name, 'Renamed')
    assert.equal(updated._version, 1)
    assert.equal(updated.phases.length, 1)
    assert.equal((await call(server, 'DELETE', `${LIST}/p1`)).status, 204)
    await expectError(await call(server, 'GET', `${LIST}/p1`), 404, 'not_found')
    for (let i = 5; i < 19; i++) await call(server, 'POST', LIST, { body: input(`p${i}`) })
    await expectError(await call(server, 'POST', LIST, { body: input('one-too-many') }), 400, 'invalid_request')
  })

  test('progressions: one item per flag in the pipeline, with phase counts, paging and filters', async (t) => {
    const release = (done) => {
      const r = sampleNewPipelineRelease()
      r.phases.forEach((p, i) => {
        if (i < done) Object.assign(p, { complete: true, status: 'completed', _completionDate: 1766085000000 + i })
      })
      return r
    }
    const releases = [0, 1, 1, 3, 0].map((done, i) => ({ projectKey: 'web', flagKey: `f${i}`, release: release(done) }))
    releases.push({ projectKey: 'other', flagKey: 'elsewhere', release: release(0) })
    releases.push({ projectKey: 'web', flagKey: 'legacy', release: sampleRelease() })
    const server = await start(t, { releases })
    const ids = sampleNewPipelineRelease().phases.map((p) => p._id)
    const path = `${LIST}/progressive-rollout/releases`
    const all = await json(await call(server, 'GET', path))
    assert.deepEqual(all.items.map((p) => [p.flagKey, p.activePhaseId]), [
      ['f0', ids[0]],
      ['f1', ids[1]],
      ['f2', ids[1]],
      ['f3', undefined],
      ['f4', ids[0]],
    ])
    assert.equal(all.items[3]._completedAt, 1766085000002)
    assert.deepEqual(all.phases.map((p) => [p._id, p.releaseCount]), [[ids[0], 2], [ids[1], 2], [ids[2], 0]])
    assert.deepEqual([all.totalCount, all.activeCount, all.completedCount], [5, 4, 1])
    const filter = encodeURIComponent(`status equals "active",activePhaseId equals "${ids[1]}"`)
    const atBeta = await json(await call(server, 'GET', `${path}?filter=${filter}`))
    assert.deepEqual(atBeta.items.map((p) => p.flagKey), ['f1', 'f2'])
    assert.equal(atBeta.totalCount, 2)
    const done = await json(await call(server, 'GET', `${path}?filter=${encodeURIComponent('status equals completed')}`))
    assert.deepEqual(done.items.map((p) => p.flagKey), ['f3'])
    const paged = await json(await call(server, 'GET', `${path}?limit=2&offset=2`))
    assert.deepEqual(paged.items.map((p) => p.flagKey), ['f2', 'f3'])
    const bad = encodeURIComponent(`status equals completed,activePhaseId equals "${ids[0]}"`)
    await expectError(await call(server, 'GET', `${path}?filter=${bad}`), 400, 'invalid_request')
    await expectError(await call(server, 'GET', `${path}?filter=flagKey%20equals%20x`), 400, 'invalid_request')
    await expectError(await call(server, 'GET', `${LIST}/nope/releases`), 404, 'not_found')
  })
})

describe('rate limit families', () => {
  test("the account's and the token's limits count every route, each with its own window", async (t) => {
    const server = await start(t, { rateLimit: { limit: 100, windowMs: 300, globalLimit: 3, tokenLimit: 5, tokenWindowMs: 2000 } })
    const answers = []
    for (let i = 0; i < 4; i++) answers.push(await call(server, 'GET', RELEASE))
    await Promise.all(answers.map((r) => r.text()))
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200, 429],
    )
    assert.deepEqual(
      answers.map((r) => r.headers.get('x-ratelimit-global-remaining')),
      ['2', '1', '0', '0'],
    )
    assert.deepEqual(
      answers.map((r) => r.headers.get('x-ratelimit-auth-token-remaining')),
      ['4', '3', '2', '1'],
    )
    assert.equal(answers[0].headers.get('x-ratelimit-auth-token-limit'), '5')
    const tokenReset = Number(answers[0].headers.get('x-ratelimit-auth-token-reset'))
    const reset = Number(answers[0].headers.get('x-ratelimit-reset'))
    assert.ok(tokenReset > reset + 1000, 'the token window is its own, and longer')
    // The account's window turns; the token's does not: one more, then 429 from the token.
    await sleep(Math.max(0, reset - Date.now()) + 20)
    const more = [await call(server, 'PATCH', RELEASE, { body: '[]' }), await call(server, 'GET', RELEASE)]
    await Promise.all(more.map((r) => r.text()))
    assert.deepEqual(
      more.map((r) => [r.status, r.headers.get('x-ratelimit-auth-token-remaining')]),
      [
        [more[0].status, '0'],
        [429, '0'],
      ],
    )
    assert.notEqual(more[0].status, 429)
    assert.equal(server.rateLimited, 2)
  })

  test('without tokenLimit no token headers are sent', async (t) => {
    const server = await start(t, { rateLimit: { limit: 2 } })
    const res = await call(server, 'GET', RELEASE)
    await res.text()
    assert.equal(res.headers.get('x-ratelimit-auth-token-remaining'), null)
    assert.equal(res.headers.get('x-ratelimit-global-remaining'), '99999')
  })
})

/** Asserts an error answer's status, code and exact message. */
async function refusal(res, status, code, message) {
  const body = await expectError(res, status, code)
  assert.equal(body.message, message)
  return body
}

describe('what each refusal says', () => {
  test('a release that is not there, a phase that is not there, a method the route lacks', async (t) => {
    const server = await start(t)
    await refusal(await call(server, 'GET', '/api/v2/flags/web/gone/release'), 404, 'not_found', 'No release for flag gone in project web')
    await refusal(await call(server, 'DELETE', '/api/v2/flags/other/gone/release'), 404, 'not_found', 'No release for flag gone in project other')
    await refusal(await call(server, 'PATCH', '/api/v2/flags/web/gone/release', { body: [complete(0)] }), 404, 'not_found', 'No release for flag gone in project web')
    await refusal(await call(server, 'PUT', '/api/v2/projects/web/flags/gone/release/phases/p1', { body: { status: 'Started' } }), 404, 'not_found', 'No release for flag gone in project web')
    await refusal(await call(server, 'PUT', '/api/v2/projects/web/flags/new-checkout/release/phases/p1', { body: { status: 'Started' } }), 404, 'not_found', 'No phase with id p1 in this release')
    await refusal(await call(server, 'POST', RELEASE, { body: [complete(0)] }), 405, 'method_not_allowed', `POST is not allowed on ${RELEASE}`)
    await refusal(await call(server, 'PUT', RELEASE, { body: [complete(0)] }), 405, 'method_not_allowed', `PUT is not allowed on ${RELEASE}`)
    await refusal(await call(server, 'GET', '/api/v2/projects/web/flags/a%2Fb/release'), 405, 'method_not_allowed', 'GET is not allowed on /api/v2/projects/web/flags/a/b/release')
    await refusal(await call(server, 'GET', '/api/v2/projects/web/flags/new-checkout/release/phases/p1'), 405, 'method_not_allowed', 'GET is not allowed on /api/v2/projects/web/flags/new-checkout/release/phases/p1')
    await refusal(await call(server, 'DELETE', '/api/v2/projects/web/flags/new-checkout/release'), 405, 'method_not_allowed', 'DELETE is not allowed on /api/v2/projects/web/flags/new-checkout/release')
    await refusal(await call(server, 'GET', '/api/v2/nothing'), 404, 'not_found', 'Invalid resource identifier')
    await refusal(await call(server, 'GET', '/api/v2/nothing', { beta: false }), 403, 'forbidden', 'This API is in beta. To use it, your request must include the header `LD-API-Version: beta`.')
    await refusal(await call(server, 'GET', RELEASE, { beta: false }), 403, 'forbidden', 'This API is in beta. To use it, your request must include the header `LD-API-Version: beta`.')
    assert.equal(server.getRelease('web', 'new-checkout')._version, 1, 'nothing changed')
  })

  test('paths that name no route are 404, with or without a query or fragment', async (t) => {
    const server = await start(t)
    assert.equal((await call(server, 'GET', `${RELEASE}?a=1#b`)).status, 200)
    for (const path of [
      '/api/v1/flags/web/new-checkout/release',
      '/apx/v2/flags/web/new-checkout/release',
      '/v2/flags/web/new-checkout/release',
      '/api/v2/flags/web/new-checkout/releases',
      '/api/v2/flag/web/new-checkout/release',
      '/api/v2/flags/web/%ZZ/release',
      '/api/v2/flags/%E0%A4%A/new-checkout/release',
      '/api/v2/projects/web/release-pipelines/standard-rollout/other',
      '/api/v2/projects/web/release-pipelines/standard-rollout/releases/x',
      '/api/v2/projects//release-pipelines',
      '/api/v2/projects/web/release-pipeline',
      '/api/v2/projects/web/release-pipelines/%ZZ',
      '/api/v2/projects/web/release-pipelines/',
      '/api/v2/projects/web/flags/new-checkout/release/phases',
      `/api/v2/projects/web/flags/new-checkout/release/phases/`,
      '/api/v2/projects/web/flags/new-checkout/release/phase/p1',
      '/api/v2/projects/web/flags/new-checkout/release/phases/%ZZ',
      '/api/v2/projects/web/flags/new-checkout/release/phases/p1/x',
      '/api/v2/projects/web/flags//release',
      '/api/v2/projects/web/flags/%ZZ/release',
      '/api/v2/projects/web/flag/new-checkout/release',
      '/api/v2/project/web/release-pipelines',
      '/api/v2/project/web/flags/new-checkout/release',
      '/api/v2/projects/web/flags/new-checkout/releases',
    ]) {
      await refusal(await call(server, 'PUT', path, { body: { status: 'Started' } }), 404, 'not_found', 'Invalid resource identifier')
    }
    assert.equal(server.getRelease('web', 'new-checkout')._version, 1)
  })

  test('a request the fake fails on is a 500 internal_server_error with what went wrong', async (t) => {
    const server = await start(t)
    server.setRelease('web', 'broken', { name: 'no phases' })
    const failed = await expectError(await call(server, 'PATCH', '/api/v2/flags/web/broken/release', { body: [complete(0)] }), 500, 'internal_server_error')
    assert.match(failed.message, /^Cannot read properties of undefined/)
    assert.equal((await call(server, 'GET', RELEASE)).status, 200, 'it keeps serving')
  })

  test('a body that is not application/json, or not JSON, is refused with what was sent', async (t) => {
    const server = await start(t)
    const cases = [
      ['text/plain', 'Content-Type must be application/json, got "text/plain"'],
      ['application/jsonp', 'Content-Type must be application/json, got "application/jsonp"'],
      ['xapplication/json', 'Content-Type must be application/json, got "xapplication/json"'],
      ['application/json-patch+json', 'Content-Type must be application/json, got "application/json-patch+json"'],
    ]
    for (const [type, message] of cases) {
      await refusal(await patch(server, [complete(0)], { headers: { 'Content-Type': type } }), 400, 'invalid_request', message)
    }
    const none = await fetch(server.url + RELEASE, { method: 'PATCH', headers: { Authorization: KEY, 'LD-API-Version': 'beta' }, body: new Blob(['[]']) })
    await refusal(none, 400, 'invalid_request', 'Content-Type must be application/json, got none')
    await refusal(await patch(server, '[', {}), 400, 'invalid_request', 'the body is not valid JSON')
    for (const type of ['APPLICATION/JSON', 'application/json ; charset=utf-8', 'application/json;charset=utf-8']) {
      server.setRelease('web', 'new-checkout', sampleRelease())
      assert.equal((await patch(server, [complete(0)], { headers: { 'Content-Type': type } })).status, 200, type)
    }
  })

  test('each refusal of a patch, word for word', async (t) => {
    const server = await start(t)
    const only = 'is not supported; only "replace" (and "test") on /phases/<n>/complete'
    const cases = [
      [{}, 'the body must be a JSON Patch array of operations'],
      [[], 'the patch is empty: it must hold at least one operation'],
      [[complete(0), null], 'operation 1 is not an object'],
      [[[]], 'operation 0 is not an object'],
      [[{ op: 'move', path: '/phases/0/complete' }], `operation 0: op "move" ${only}`],
      [[{ op: 'replace', path: 5, value: true }], 'operation 0: path 5 cannot be changed; only /phases/<n>/complete'],
      [[{ op: 'replace', path: ['/phases/0/complete'], value: true }], 'operation 0: path ["/phases/0/complete"] cannot be changed; only /phases/<n>/complete'],
      [[{ op: 'test', path: ['/phases/0/_id'], value: 'x' }], 'operation 0: path ["/phases/0/_id"] cannot be changed; only /phases/<n>/complete'],
      [[{ op: 'test', path: 5, value: true }], 'operation 0: path 5 cannot be changed; only /phases/<n>/complete'],
      [[{ op: 'replace', path: '/phases/0/complete/x', value: true }], 'operation 0: path "/phases/0/complete/x" cannot be changed; only /phases/<n>/complete'],
      [[{ op: 'replace', path: 'x/phases/0/complete', value: true }], 'operation 0: path "x/phases/0/complete" cannot be changed; only /phases/<n>/complete'],
      [[{ op: 'test', path: '/phases/0/_id/x', value: 'x' }], 'operation 0: path "/phases/0/_id/x" cannot be changed; only /phases/<n>/complete'],
      [[{ op: 'test', path: 'x/phases/0/_id', value: 'x' }], 'operation 0: path "x/phases/0/_id" cannot be changed; only /phases/<n>/complete'],
      [[complete(10)], 'operation 0: there is no phase 10; the release has 3 phases'],
      [[{ op: 'test', path: '/phases/3/_id', value: 'x' }], 'operation 0: there is no phase 3; the release has 3 phases'],
      [[{ op: 'replace', path: '/phases/0/complete' }], 'operation 0: value is required'],
      [[{ op: 'test', path: '/phases/0/complete' }], 'operation 0: value is required'],
      [[complete(0, 1)], 'operation 0: value must be a boolean, got 1'],
      [[{ op: 'test', path: '/phases/0/complete', value: 'false' }], 'operation 0: test failed: /phases/0/complete is false, not "false"'],
      [[{ op: 'test', path: '/phases/2/_id', value: null }], `operation 0: test failed: /phases/2/_id is "${sampleRelease().phases[2]._id}", not null`],
    ]
    for (const [body, message] of cases) {
      await refusal(await patch(server, body), 400, 'invalid_request', message)
    }
    assert.deepEqual(server.getRelease('web', 'new-checkout'), sampleRelease(), 'nothing was applied')
    // A test of a phase's complete passes on the value it holds, and one on an id does too.
    const passed = await json(await patch(server, [{ op: 'test', path: '/phases/0/complete', value: false }, complete(0)]))
    assert.equal(passed.phases[0].complete, true)
    await refusal(await patch(server, [{ op: 'test', path: '/phases/0/complete', value: false }]), 400, 'invalid_request', 'operation 0: test failed: /phases/0/complete is true, not false')
  })

  test('a patch replaces the release whole: a field gone from the draft is gone', async (t) => {
    const server = await start(t)
    const done = await json(await patch(server, [complete(0), complete(0, false)]))
    assert.deepEqual(Object.keys(done.phases[0]).sort(), Object.keys(sampleRelease().phases[0]).sort())
    assert.equal(done.phases[0].status, 'Started')
    assert.equal(done.phases[1].status, 'Started', 'the next phase was started by the first operation')
    assert.equal(done._version, 2)
  })
})

describe('the phase-status PUT of a legacy release', () => {
  const path = (id) => `/api/v2/projects/web/flags/new-checkout/release/phases/${id}`
  const [testing, staging, production] = sampleRelease().phases

  test('refusals name the statuses it takes', async (t) => {
    const server = await start(t)
    const statuses = 'status must be active or one of NotStarted, ReadyToStart, Started, Paused, Complete'
    await refusal(await call(server, 'PUT', path(staging._id), { body: { status: 'started' } }), 400, 'invalid_request', statuses)
    await refusal(await call(server, 'PUT', path(staging._id), { body: { status: null } }), 400, 'invalid_request', statuses)
    await refusal(await call(server, 'PUT', path(staging._id), { body: { audiences: {} } }), 400, 'invalid_request', 'audiences must be an array of objects')
    await refusal(await call(server, 'PUT', path(staging._id), { body: { audiences: [{}, 'x'] } }), 400, 'invalid_request', 'audiences must be an array of objects')
    await refusal(await call(server, 'PUT', path(staging._id), { body: 'null' }), 400, 'invalid_request', 'the body must be a JSON object')
    await refusal(await call(server, 'PUT', path(staging._id), { body: '[]' }), 400, 'invalid_request', 'the body must be a JSON object')
    await refusal(await call(server, 'PUT', path(staging._id), { body: '{', headers: { 'Content-Type': 'text/json' } }), 400, 'invalid_request', 'Content-Type must be application/json, got "text/json"')
    assert.deepEqual(server.getRelease('web', 'new-checkout'), sampleRelease())
  })

  test('active in any case starts a phase; ReadyToStart, NotStarted and Paused reopen one; Complete starts and completes one', async (t) => {
    const server = await start(t)
    const before = Date.now()
    const active = await json(await call(server, 'PUT', path(staging._id), { body: { status: 'aCtIvE' } }))
    assert.equal(active.phases[1].status, 'Started')
    assert.equal(active.phases[1].started, true)
    assert.equal(active.phases[1].complete, false)
    assert.ok(active.phases[1]._startedDate >= before && active.phases[1]._startedDate <= Date.now())
    assert.equal(active._version, 2)
    // A phase already started keeps its start date.
    const again = await json(await call(server, 'PUT', path(testing._id), { body: { status: 'Started' } }))
    assert.equal(again.phases[0]._startedDate, testing._startedDate)
    // Complete on a phase never started: started, then completed.
    const completed = await json(await call(server, 'PUT', path(production._id), { body: { status: 'Complete' } }))
    const last = completed.phases[2]
    assert.deepEqual([last.started, last.complete, last.status], [true, true, 'Complete'])
    assert.equal(typeof last._startedDate, 'number')
    assert.deepEqual(last._completedBy.token, { _links: {}, _id: last._completedBy.token._id, name: 'fake token', ending: KEY.slice(-4), serviceToken: false })
    assert.match(last._completedBy.token._id, /^[0-9a-f]{24}$/)
    for (const status of ['ReadyToStart', 'NotStarted', 'Paused']) {
      const reopened = await json(await call(server, 'PUT', path(production._id), { body: { status } }))
      const phase = reopened.phases[2]
      assert.deepEqual([phase.status, phase.complete, '_completionDate' in phase, '_completedBy' in phase], [status, false, false, false], status)
      assert.equal(phase.started, true, `${status}: a phase once started stays started`)
      await call(server, 'PUT', path(production._id), { body: { status: 'Complete' } }).then((r) => r.text())
    }
    // A phase not started and set to NotStarted is not started by it.
    server.setRelease('web', 'new-checkout', sampleRelease())
    const idle = await json(await call(server, 'PUT', path(production._id), { body: { status: 'NotStarted' } }))
    assert.equal(idle.phases[2].started, false)
    assert.equal('_startedDate' in idle.phases[2], false)
  })

  test('an audience given by id gets its notification and guardian settings; a body without status changes only those', async (t) => {
    const release = sampleRelease()
    delete release.phases[0]._audiences[0].configuration
    const server = await start(t, { releases: [{ projectKey: 'web', flagKey: 'new-checkout', release }] })
    const audienceId = testing._audiences[0]._id
    const guardian = { monitoringWindowMilliseconds: 60000, rolloutWeight: 10 }
    const answer = await json(
      await call(server, 'PUT', path(testing._id), {
        body: { audiences: [{ audienceId, releaseGuardianConfiguration: guardian, notifyMemberIds: ['m1'], notifyTeamKeys: ['t1'], other: 'ignored' }] },
      }),
    )
    assert.deepEqual(answer.phases[0]._audiences[0].configuration, {
      releaseStrategy: 'immediate-rollout',
      requireApproval: false,
      releaseGuardianConfiguration: guardian,
      notifyMemberIds: ['m1'],
      notifyTeamKeys: ['t1'],
    })
    assert.equal(answer.phases[0].status, 'Started')
    assert.equal(answer._version, 2)
    const kept = await json(await call(server, 'PUT', path(testing._id), { body: { audiences: [{ audienceId, notifyTeamKeys: ['t2'] }] } }))
    assert.deepEqual(kept.phases[0]._audiences[0].configuration.notifyMemberIds, ['m1'], 'what is not given is kept')
    assert.deepEqual(kept.phases[0]._audiences[0].configuration.notifyTeamKeys, ['t2'])
  })
})

describe('the phase-status PUT of a new pipeline', () => {
  const { sampleNewPipelineRelease, sampleNewPipeline } = require('../testing/index.js')
  const path = (id) => `/api/v2/projects/web/flags/fresh/release/phases/${id}`
  const ids = sampleNewPipelineRelease().phases.map((p) => p._id)
  const startNew = (t, release = sampleNewPipelineRelease(), options = {}) => start(t, { releases: [{ projectKey: 'web', flagKey: 'fresh', release }], ...options })

  test('its refusals, word for word', async (t) => {
    const server = await startNew(t)
    await refusal(await call(server, 'PUT', path(ids[1]), { body: '[]' }), 400, 'invalid_request', 'the body must be a JSON object')
    await refusal(await call(server, 'PUT', path(ids[1]), { body: { status: 'active', audiences: 'x' } }), 400, 'invalid_request', 'audiences must be an array of objects')
    await refusal(await call(server, 'PUT', path(ids[1]), { body: { status: 'active', audiences: [null] } }), 400, 'invalid_request', 'audiences must be an array of objects')
    await refusal(await call(server, 'PUT', path(ids[0]), { body: { status: 'active' } }), 400, 'invalid_request', 'Phase must have status not-started or ready-to-start to be started: QA is already active')
    await refusal(await call(server, 'PATCH', '/api/v2/flags/web/fresh/release', { body: 'not json' }), 400, 'invalid_request', 'Updating a release with a JSON patch is only available for releases that are part of a legacy release pipeline')
    assert.deepEqual(server.getRelease('web', 'fresh'), sampleNewPipelineRelease())
    assert.equal((await call(server, 'PUT', path(ids[1]), { body: { status: 'active', audiences: [] } })).status, 200)
    await refusal(await call(server, 'PUT', path(ids[0]), { body: { status: 'active' } }), 400, 'invalid_request', 'Phase QA is already completed')
  })

  test('starting a later phase starts and completes the unstarted ones before it, with their environments', async (t) => {
    const release = sampleNewPipelineRelease()
    release.phases[0] = { _id: ids[0], _name: 'QA', complete: false, status: 'ready-to-start', started: false }
    const server = await startNew(t, release)
    const before = Date.now()
    const after = await json(await call(server, 'PUT', path(ids[2]), { body: { status: 'Active' } }))
    const [qa, beta, ga] = after.phases
    for (const [phase, env] of [
      [qa, ['test', 'Test', 'f5a623']],
      [beta, ['staging', 'Staging', '7b42bc']],
    ]) {
      assert.deepEqual([phase.status, phase.complete, phase.started], ['completed', true, true])
      assert.ok(phase._completionDate >= before && phase._completionDate === phase._startedDate)
      assert.deepEqual(phase._completedBy, { token: { _id: phase._completedBy.token._id, name: 'fake token', ending: KEY.slice(-4), serviceToken: false } })
      assert.deepEqual(phase._audiences.map((a) => [a.environment.key, a.environment.name, a.environment.color, a.status, a.name]), [[...env, 'completed', env[1]]])
    }
    assert.deepEqual([ga.status, ga.complete, ga.started], ['active', false, true])
    assert.deepEqual(ga._audiences.map((a) => [a.environment.key, a.status]), [['production', 'active']])
    assert.equal(ga._audiences[0]._id, `${ids[2].slice(0, 20)}aa20`)
    assert.equal(after._version, 1)
  })

  test('a phase the pipeline does not know starts with no audiences; an audience without an environment takes its own name', async (t) => {
    const pipeline = sampleNewPipeline({ phases: [{ id: 'a', name: 'A', audiences: [{ name: 'Canary' }] }, { id: 'b', name: 'B' }] })
    const release = { ...sampleNewPipelineRelease(), phases: [{ _id: 'a', _name: 'A', complete: false, status: 'ready-to-start', started: false }, { _id: 'b', _name: 'B', complete: false, status: 'not-started', started: false }, { _id: 'c', _name: 'C', complete: false, status: 'not-started', started: false }] }
    const server = await startNew(t, release, { pipelines: [{ projectKey: 'web', pipeline }] })
    const after = await json(await call(server, 'PUT', path('c'), { body: { status: 'active' } }))
    assert.deepEqual(after.phases[0]._audiences.map((a) => [a.name, a.environment]), [['Canary', { name: 'Canary' }]])
    assert.deepEqual(after.phases[1]._audiences, [])
    assert.deepEqual(after.phases[2]._audiences, [])
  })

  test("a release's pipeline is the one of its own project", async (t) => {
    const { samplePipeline } = require('../testing/index.js')
    // `progressive-rollout` is legacy in `legacy`, and rolls out to other environments in `web`.
    const canary = sampleNewPipeline({ phases: sampleNewPipeline().phases.map((p) => ({ ...p, audiences: [{ name: 'Canary', environment: { key: 'canary', name: 'Canary', color: '000000' } }] })) })
    const server = await start(t, {
      releases: [
        { projectKey: 'legacy', flagKey: 'fresh', release: sampleNewPipelineRelease() },
        { projectKey: 'web', flagKey: 'fresh', release: sampleNewPipelineRelease() },
      ],
      pipelines: [
        { projectKey: 'legacy', pipeline: samplePipeline({ key: 'progressive-rollout' }) },
        { projectKey: 'other', pipeline: sampleNewPipeline() },
        { projectKey: 'web', pipeline: canary },
      ],
    })
    assert.equal((await call(server, 'PATCH', '/api/v2/flags/legacy/fresh/release', { body: [complete(1)] })).status, 200, 'legacy in its project')
    const paused = await json(await call(server, 'PUT', '/api/v2/projects/legacy/flags/fresh/release/phases/' + ids[2], { body: { status: 'Paused' } }))
    assert.equal(paused.phases[2].status, 'Paused', 'the legacy phase-status PUT')
    const after = await json(await call(server, 'PUT', path(ids[2]), { body: { status: 'active' } }))
    assert.deepEqual(after.phases.slice(1).map((p) => p._audiences.map((a) => a.environment.key)), [['canary'], ['canary']])
  })
})

describe('creating a release', () => {
  const { sampleNewPipeline } = require('../testing/index.js')
  const path = '/api/v2/projects/web/flags/made/release'

  test('each refusal, word for word', async (t) => {
    const server = await start(t, { releases: [] })
    const needKey = 'releasePipelineKey is required and must be a non-empty string'
    for (const [body, message] of [
      ['[]', 'the body must be a JSON object'],
      ['null', 'the body must be a JSON object'],
      [{}, needKey],
      [{ releasePipelineKey: '' }, needKey],
      [{ releasePipelineKey: ['standard-rollout'] }, needKey],
      [{ releasePipelineKey: 'standard-rollout', releaseVariationId: 1 }, 'releaseVariationId must be a string'],
      [{ releasePipelineKey: 'standard-rollout', releaseVariationId: {} }, 'releaseVariationId must be a string'],
    ]) {
      await refusal(await call(server, 'PUT', path, { body }), 400, 'invalid_request', message)
    }
    await refusal(await call(server, 'PUT', path, { body: { releasePipelineKey: 'nope' } }), 404, 'not_found', 'Release pipeline not found')
    await refusal(await call(server, 'PUT', path, { body: {}, headers: { 'Content-Type': 'text/plain' } }), 400, 'invalid_request', 'Content-Type must be application/json, got "text/plain"')
    assert.equal(server.getRelease('web', 'made'), undefined)
    assert.equal((await call(server, 'PUT', path, { body: { releasePipelineKey: 'standard-rollout', releaseVariationId: null } })).status, 200)
  })

  test('in a legacy pipeline: its phases, audiences and configuration, the first started', async (t) => {
    const { createHash } = await import('node:crypto')
    const pipeline = {
      key: 'legacy',
      name: 'Legacy',
      _isLegacy: true,
      phases: [
        { id: 'ph1', name: 'One', configuration: { x: 1 }, audiences: [{ name: 'A', environment: { key: 'test' }, configuration: { releaseStrategy: 'monitored-release' }, segmentKeys: ['beta'] }, { name: 'B' }] },
        { id: 'ph2', name: 'Two' },
        { id: 'ph3', name: 'Three', audiences: [{ name: 'C', environment: { key: 'production' } }] },
      ],
    }
    const server = await start(t, { releases: [], pipelines: [{ projectKey: 'web', pipeline }] })
    const before = Date.now()
    const release = await json(await call(server, 'PUT', path, { body: { releasePipelineKey: 'legacy' } }))
    assert.deepEqual(release._links, { self: { href: '/api/v2/flags/web/made/release', type: 'application/json' } })
    assert.equal(release.name, 'Legacy')
    assert.equal(release.releasePipelineKey, 'legacy')
    assert.equal(release.releasePipelineDescription, '')
    assert.equal(release._version, 1)
    assert.equal(release._releaseVariationId, null)
    const [one, two] = release.phases
    assert.deepEqual([one._id, one._name, one.complete, one.status, one.started], ['ph1', 'One', false, 'Started', true])
    assert.ok(one._creationDate >= before && one._startedDate === one._creationDate)
    assert.deepEqual(one.configuration, { x: 1 })
    assert.deepEqual(one._audiences, [
      { _id: createHash('sha256').update('ph1/0').digest('hex').slice(0, 24), name: 'A', environment: { key: 'test' }, configuration: { releaseStrategy: 'monitored-release' }, segmentKeys: ['beta'], status: 'active' },
      { _id: createHash('sha256').update('ph1/1').digest('hex').slice(0, 24), name: 'B', configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false }, segmentKeys: [], status: 'active' },
    ])
    assert.deepEqual(two, { _id: 'ph2', _name: 'Two', complete: false, _creationDate: one._creationDate, _audiences: [], status: 'NotStarted', started: false, configuration: {} })
    assert.deepEqual(release.phases[2]._audiences.map((a) => [a.name, a.status]), [['C', 'inactive']])
    assert.deepEqual(server.getRelease('web', 'made'), release)
  })

  test('in a new pipeline: sparse phases, the first ready to start, its description and a default variation', async (t) => {
    const server = await start(t, { releases: [], pipelines: [{ projectKey: 'web', pipeline: sampleNewPipeline({ description: 'Slowly' }) }, { projectKey: 'web', pipeline: sampleNewPipeline({ key: 'bare', description: undefined }) }] })
    const made = await json(await call(server, 'PUT', path, { body: { releasePipelineKey: 'progressive-rollout' } }))
    assert.deepEqual(Object.keys(made), ['name', 'releasePipelineKey', 'releasePipelineDescription', 'phases', '_version', '_releaseVariationId'])
    assert.equal(made.releasePipelineDescription, 'Slowly')
    assert.equal(made._releaseVariationId, 'variation-true')
    assert.equal(made._version, 0)
    assert.deepEqual(made.phases.map((p) => p.status), ['ready-to-start', 'not-started', 'not-started'])
    const chosen = await json(await call(server, 'PUT', '/api/v2/projects/web/flags/other/release', { body: { releasePipelineKey: 'bare', releaseVariationId: 'v2' } }))
    assert.equal(chosen._releaseVariationId, 'v2')
    assert.equal(chosen.releasePipelineDescription, '')
    // A create replaces a release the flag had.
    const replaced = await json(await call(server, 'PUT', path, { body: { releasePipelineKey: 'bare' } }))
    assert.equal(replaced.releasePipelineKey, 'bare')
    assert.equal(server.getRelease('web', 'made').releasePipelineKey, 'bare')
  })
})

describe('release pipelines: paging, filters, refusals', () => {
  const LIST = '/api/v2/projects/web/release-pipelines'
  const body = (key, extra = {}) => ({ key, name: `Pipeline ${key}`, phases: [{ name: 'One', audiences: [{ environmentKey: 'test', name: 'Test' }] }], ...extra })
  const keys = async (server, query) => (await json(await call(server, 'GET', `${LIST}${query}`))).items.map((p) => p.key)

  test('limit is 1 to 100 (default 20) and offset 0 or more, both plain integers', async (t) => {
    const server = await start(t)
    assert.deepEqual(await keys(server, '?limit=100'), ['standard-rollout', 'progressive-rollout'])
    assert.deepEqual(await keys(server, '?limit=1&offset=1'), ['progressive-rollout'])
    assert.deepEqual(await keys(server, '?offset=2'), [])
    assert.deepEqual(await keys(server, `?offset=${Number.MAX_SAFE_INTEGER}`), [])
    for (const limit of ['0', '101', '1.5', '-1', '', ' 5', 'ten', '1e1']) {
      await refusal(await call(server, 'GET', `${LIST}?limit=${encodeURIComponent(limit)}`), 400, 'invalid_request', 'limit must be an integer from 1 to 100')
    }
    for (const offset of ['-1', '0.5', '', 'x', `${Number.MAX_SAFE_INTEGER + 2}`]) {
      await refusal(await call(server, 'GET', `${LIST}?offset=${encodeURIComponent(offset)}`), 400, 'invalid_request', 'offset must be a non-negative integer')
    }
    await refusal(await call(server, 'GET', `${LIST}?limit=0&offset=-1`), 400, 'invalid_request', 'limit must be an integer from 1 to 100')
    await refusal(await call(server, 'GET', `${LIST}/standard-rollout?limit=0`), 400, 'invalid_request', 'limit must be an integer from 1 to 100')
  })

  test('filter query: matches key, name or description in any case; env: a phase rolling out there; both together', async (t) => {
    const server = await start(t)
    await call(server, 'POST', LIST, { body: body('canary-first', { description: 'Canary, then ALL', phases: [{ name: 'C', audiences: [{ environmentKey: 'eu', name: 'EU' }, { environmentKey: 'canary', name: 'Canary' }] }] }) }).then((r) => r.text())
    const filter = async (text) => keys(server, `?filter=${encodeURIComponent(text)}`)
    assert.deepEqual(await filter('query:ROLLOUT'), ['standard-rollout', 'progressive-rollout'])
    assert.deepEqual(await filter('query:Standard'), ['standard-rollout'])
    assert.deepEqual(await filter('query:progressive r'), ['progressive-rollout'], 'the name')
    assert.deepEqual(await filter('query:then staging'), ['standard-rollout'], 'the description')
    assert.deepEqual(await filter('query:then all'), ['canary-first'])
    assert.deepEqual(await filter('env:canary'), ['canary-first'], 'one of a phase\'s audiences rolls out there')
    assert.deepEqual(await filter('env:staging'), ['standard-rollout', 'progressive-rollout'])
    assert.deepEqual(await filter('env:Staging'), [])
    assert.deepEqual(await filter(' env :production,query:standard'), ['standard-rollout'])
    assert.deepEqual(await filter('query:nothing-like-it'), [])
    assert.deepEqual(await filter(''), ['standard-rollout', 'progressive-rollout', 'canary-first'])
    await refusal(await call(server, 'GET', `${LIST}?filter=standard`), 400, 'invalid_request', 'Invalid filter: "standard"')
    await refusal(await call(server, 'GET', `${LIST}?filter=query:`), 400, 'invalid_request', 'Invalid filter: "query:"')
    await refusal(await call(server, 'GET', `${LIST}?filter=${encodeURIComponent('query:a,')}`), 400, 'invalid_request', 'Invalid filter: ""')
    await refusal(await call(server, 'GET', `${LIST}?filter=${encodeURIComponent('name:x')}`), 400, 'invalid_request', 'Unsupported filter field: "name"')
    await refusal(await call(server, 'GET', `${LIST}?filter=${encodeURIComponent(':x')}`), 400, 'invalid_request', 'Unsupported filter field: ""')
  })

  test('a filter skips pipelines whose fields are missing rather than failing', async (t) => {
    const { sampleNewPipeline } = require('../testing/index.js')
    const bare = { key: 'bare', name: 'Bare', phases: [{ id: 'x', name: 'X' }, { id: 'y', name: 'Y', audiences: [{ name: 'No environment' }] }] }
    const server = await start(t, { pipelines: [{ projectKey: 'web', pipeline: bare }, { projectKey: 'web', pipeline: sampleNewPipeline() }] })
    assert.deepEqual(await keys(server, '?filter=query:progressive'), ['progressive-rollout'])
    assert.deepEqual(await keys(server, '?filter=env:test'), ['progressive-rollout'])
    assert.deepEqual(await keys(server, '?filter=query:bare'), ['bare'])
  })

  test('each refusal of a pipeline body, word for word', async (t) => {
    const server = await start(t)
    const cases = [
      ['[]', 'the body must be a JSON object'],
      [{ name: 'X', phases: [] }, 'key is required: letters, digits, ., _ and -'],
      [{ key: 5, name: 'X' }, 'key is required: letters, digits, ., _ and -'],
      [{ key: 'a b', name: 'X' }, 'key is required: letters, digits, ., _ and -'],
      [{ key: 'ok', phases: [] }, 'name is required'],
      [{ key: 'ok', name: '', phases: [] }, 'name is required'],
      [{ key: 'ok', name: 7, phases: [] }, 'name is required'],
      [{ key: 'ok', name: 'X' }, 'phases must be a non-empty array'],
      [{ key: 'ok', name: 'X', phases: [] }, 'phases must be a non-empty array'],
      [{ key: 'ok', name: 'X', phases: {} }, 'phases must be a non-empty array'],
      [{ key: 'ok', name: 'X', phases: [{ name: 'A', audiences: [] }, 'B'] }, 'phases[1].name is required'],
      [{ key: 'ok', name: 'X', phases: [{ audiences: [] }] }, 'phases[0].name is required'],
      [{ key: 'ok', name: 'X', phases: [{ name: '', audiences: [] }] }, 'phases[0].name is required'],
      [{ key: 'ok', name: 'X', phases: [{ name: 3, audiences: [] }] }, 'phases[0].name is required'],
      [{ key: 'ok', name: 'X', phases: [{ name: 'A' }] }, 'phases[0].audiences must be an array'],
      [{ key: 'ok', name: 'X', phases: [{ name: 'A', audiences: [{ environmentKey: 'test', name: 'T' }, null] }] }, 'phases[0].audiences[1] needs environmentKey and name'],
      [{ key: 'ok', name: 'X', phases: [{ name: 'A', audiences: [{ name: 'T' }] }] }, 'phases[0].audiences[0] needs environmentKey and name'],
      [{ key: 'ok', name: 'X', phases: [{ name: 'A', audiences: [{ environmentKey: 'test' }] }] }, 'phases[0].audiences[0] needs environmentKey and name'],
    ]
    for (const [input, message] of cases) {
      await refusal(await call(server, 'POST', LIST, { body: input }), 400, 'invalid_request', message)
    }
    await refusal(await call(server, 'POST', LIST, { body: body('x'), headers: { 'Content-Type': 'text/plain' } }), 400, 'invalid_request', 'Content-Type must be application/json, got "text/plain"')
    await refusal(await call(server, 'POST', LIST, { body: body('standard-rollout') }), 409, 'conflict', 'A release pipeline with key standard-rollout already exists')
    // An update needs no key (the path names it), and is refused the same way.
    await refusal(await call(server, 'PUT', `${LIST}/standard-rollout`, { body: { name: 'X', phases: [] } }), 400, 'invalid_request', 'phases must be a non-empty array')
    await refusal(await call(server, 'PUT', `${LIST}/standard-rollout`, { body: '{', headers: { 'Content-Type': 'text/plain' } }), 400, 'invalid_request', 'Content-Type must be application/json, got "text/plain"')
    await refusal(await call(server, 'PUT', `${LIST}/nope`, { body: body('nope') }), 404, 'not_found', 'Release pipeline not found')
    await refusal(await call(server, 'DELETE', LIST), 405, 'method_not_allowed', `DELETE is not allowed on ${LIST}`)
    await refusal(await call(server, 'PATCH', `${LIST}/standard-rollout`, { body: [] }), 405, 'method_not_allowed', `PATCH is not allowed on ${LIST}/standard-rollout`)
    await refusal(await call(server, 'POST', `${LIST}/standard-rollout/releases`), 405, 'method_not_allowed', `POST is not allowed on ${LIST}/standard-rollout/releases`)
    await refusal(await call(server, 'DELETE', `${LIST}/standard-rollout`), 400, 'invalid_request', 'The default release pipeline of a project cannot be deleted')
    assert.deepEqual(await keys(server, ''), ['standard-rollout', 'progressive-rollout'], 'nothing was made or removed')
  })

  test('a created pipeline: its fields, made-up phase ids, environments, defaults; at most 20 per project', async (t) => {
    const server = await start(t)
    const before = Date.now()
    const res = await call(server, 'POST', '/api/v2/projects/p%2Fq/release-pipelines', {
      body: {
        key: 'full.key_1-x',
        name: 'Full',
        description: 'All fields',
        tags: ['a'],
        isProjectDefault: true,
        phases: [
          { name: 'First', audiences: [{ environmentKey: 'staging', name: 'Stage', configuration: { releaseStrategy: 'monitored-release' }, segmentKeys: ['s1'] }] },
          { name: 'Then', audiences: [] },
        ],
      },
    })
    assert.equal(res.status, 201)
    const made = await json(res)
    assert.deepEqual(made._links, { self: { href: '/api/v2/projects/p/q/release-pipelines/full.key_1-x', type: 'application/json' } })
    assert.deepEqual([made.key, made.name, made.description, made.tags, made._version, made._isLegacy, made.isProjectDefault], ['full.key_1-x', 'Full', 'All fields', ['a'], 0, false, true])
    assert.ok(Date.parse(made.createdAt) >= before - 1 && Date.parse(made.createdAt) <= Date.now())
    assert.match(made.phases[0].id, /^[0-9a-f]{24}$/)
    assert.notEqual(made.phases[0].id, made.phases[1].id)
    assert.deepEqual(made.phases[0].audiences, [{ name: 'Stage', environment: { key: 'staging', name: 'Staging', color: '7b42bc' }, configuration: { releaseStrategy: 'monitored-release' }, segmentKeys: ['s1'] }])
    assert.deepEqual(made.phases[1], { id: made.phases[1].id, name: 'Then', audiences: [] })
    // The new default takes the place of the old one, which can now be deleted.
    const old = await json(await call(server, 'GET', '/api/v2/projects/p%2Fq/release-pipelines/standard-rollout'))
    assert.equal(old.isProjectDefault, false)
    assert.equal((await call(server, 'DELETE', '/api/v2/projects/p%2Fq/release-pipelines/standard-rollout')).status, 204)
    await refusal(await call(server, 'DELETE', '/api/v2/projects/p%2Fq/release-pipelines/full.key_1-x'), 400, 'invalid_request', 'The default release pipeline of a project cannot be deleted')
    // The defaults of a minimal one; an environment not in the samples gets its key as name.
    const { createHash } = await import('node:crypto')
    const minimal = await json(await call(server, 'POST', LIST, { body: body('minimal', { phases: [{ name: 'One', audiences: [{ environmentKey: 'qa-eu', name: 'QA' }] }] }) }))
    assert.deepEqual([minimal.description, minimal.tags, minimal._isLegacy, minimal.isProjectDefault], ['', [], false, false])
    assert.deepEqual(minimal.phases[0].audiences, [{ name: 'QA', environment: { key: 'qa-eu', name: 'qa-eu', color: createHash('sha256').update('qa-eu').digest('hex').slice(0, 6) }, configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false } }])
    assert.equal((await json(await call(server, 'GET', `${LIST}/standard-rollout`))).isProjectDefault, true, 'another project is left alone')
    // 20 at most: web has 3 now.
    for (let i = 0; i < 17; i++) assert.equal((await call(server, 'POST', LIST, { body: body(`n${i}`) }).then(async (r) => [r.status, await r.text()]))[0], 201)
    await refusal(await call(server, 'POST', LIST, { body: body('n17') }), 400, 'invalid_request', 'A project can have at most 20 release pipelines')
    await refusal(await call(server, 'POST', LIST, { body: body('n0') }), 409, 'conflict', 'A release pipeline with key n0 already exists')
    assert.equal((await json(await call(server, 'GET', LIST))).totalCount, 20)
  })

  test('an update keeps the key, creation date, kind and default, and moves the version on', async (t) => {
    const server = await start(t)
    const old = await json(await call(server, 'GET', `${LIST}/standard-rollout`))
    const updated = await json(await call(server, 'PUT', `${LIST}/standard-rollout`, { body: body('ignored', { name: 'New name', isLegacy: false, isProjectDefault: false, description: 'D' }) }))
    assert.deepEqual([updated.key, updated.name, updated.description, updated.createdAt, updated._isLegacy, updated.isProjectDefault, updated._version], ['standard-rollout', 'New name', 'D', old.createdAt, true, true, 2])
    assert.deepEqual(await json(await call(server, 'GET', `${LIST}/standard-rollout`)), updated)
    const { sampleNewPipeline } = require('../testing/index.js')
    const versionless = await start(t, { pipelines: [{ projectKey: 'web', pipeline: sampleNewPipeline({ _version: undefined }) }] })
    const first = await json(await call(versionless, 'PUT', `${LIST}/progressive-rollout`, { body: body('x') }))
    assert.deepEqual([first._version, first._isLegacy, first.isProjectDefault], [1, false, false])
  })

  test('a pipeline is deleted; its releases stay', async (t) => {
    const server = await start(t)
    const res = await call(server, 'DELETE', `${LIST}/progressive-rollout`)
    assert.equal(res.status, 204)
    assert.equal(await res.text(), '')
    await refusal(await call(server, 'GET', `${LIST}/progressive-rollout`), 404, 'not_found', 'Release pipeline not found')
    assert.deepEqual(await keys(server, ''), ['standard-rollout'])
    assert.equal((await call(server, 'GET', RELEASE)).status, 200)
  })
})

describe('release progressions', () => {
  const { sampleNewPipelineRelease } = require('../testing/index.js')
  const PATH = '/api/v2/projects/web/release-pipelines/progressive-rollout/releases'
  const ids = sampleNewPipelineRelease().phases.map((p) => p._id)

  test('twenty a page by default, with links saying which page', async (t) => {
    const releases = Array.from({ length: 23 }, (_, i) => ({ projectKey: 'web', flagKey: `f${String(i).padStart(2, '0')}`, release: sampleNewPipelineRelease() }))
    const server = await start(t, { releases })
    const page = await json(await call(server, 'GET', PATH))
    assert.equal(page.items.length, 20)
    assert.equal(page.items[19].flagKey, 'f19')
    assert.deepEqual(page._links, { self: { href: `${PATH}?limit=20&offset=0`, type: 'application/json' } })
    assert.deepEqual([page.totalCount, page.activeCount, page.completedCount], [23, 23, 0])
    const last = await json(await call(server, 'GET', `${PATH}?offset=20&limit=2`))
    assert.deepEqual(last.items.map((p) => p.flagKey), ['f20', 'f21'])
    assert.equal(last._links.self.href, `${PATH}?limit=2&offset=20`)
    assert.deepEqual(page.items[0], {
      flagKey: 'f00',
      activePhaseId: ids[0],
      _createdAt: 1766084905114,
      _links: { self: { href: '/api/v2/flags/web/f00/release', type: 'application/json' } },
    })
  })

  test('when a release was made and finished: its earliest date, its latest completion; a fixed date when none is known', async (t) => {
    const done = sampleNewPipelineRelease()
    done.phases.forEach((p, i) => Object.assign(p, { complete: true, _creationDate: 1766000000000 + i, _completionDate: 1766100000000 - i }))
    const undated = sampleNewPipelineRelease()
    delete undated.phases[0]._creationDate
    delete undated.phases[0]._startedDate
    const startedOnly = sampleNewPipelineRelease()
    delete startedOnly.phases[0]._creationDate
    startedOnly.phases[0]._startedDate = 1766000000500
    const finishedUndated = sampleNewPipelineRelease()
    for (const p of finishedUndated.phases) p.complete = true
    const server = await start(t, {
      releases: [
        { projectKey: 'web', flagKey: 'done', release: done },
        { projectKey: 'web', flagKey: 'undated', release: undated },
        { projectKey: 'web', flagKey: 'started-only', release: startedOnly },
        { projectKey: 'web', flagKey: 'finished-undated', release: finishedUndated },
      ],
    })
    const page = await json(await call(server, 'GET', PATH))
    const by = Object.fromEntries(page.items.map((p) => [p.flagKey, p]))
    assert.equal(by.done._createdAt, 1766000000000)
    assert.equal(by.done._completedAt, 1766100000000)
    assert.equal('activePhaseId' in by.done, false)
    assert.equal('_completedAt' in by.undated, false)
    assert.equal(by.undated._createdAt, 1764300000000)
    assert.equal(by['started-only']._createdAt, 1766000000500)
    assert.equal(by['finished-undated']._completedAt, 0)
    assert.deepEqual(page.phases, [
      { _id: ids[0], name: 'QA', releaseCount: 2 },
      { _id: ids[1], name: 'Beta', releaseCount: 0 },
      { _id: ids[2], name: 'General availability', releaseCount: 0 },
    ])
    assert.deepEqual([page.totalCount, page.activeCount, page.completedCount], [4, 2, 2])
  })

  test("the filter: LaunchDarkly's syntax, quoted or not, and its refusals word for word", async (t) => {
    const release = (done) => {
      const r = sampleNewPipelineRelease()
      r.phases.forEach((p, i) => (p.complete = i < done))
      return r
    }
    const server = await start(t, { releases: [0, 1, 3].map((done) => ({ projectKey: 'web', flagKey: `at${done}`, release: release(done) })) })
    const flags = async (filter) => (await json(await call(server, 'GET', `${PATH}?filter=${encodeURIComponent(filter)}`))).items.map((p) => p.flagKey)
    assert.deepEqual(await flags('status equals active'), ['at0', 'at1'])
    assert.deepEqual(await flags('  status   equals   "active"  '), ['at0', 'at1'])
    assert.deepEqual(await flags('status equals completed'), ['at3'])
    assert.deepEqual(await flags(`activePhaseId equals ${ids[1]}`), ['at1'])
    assert.deepEqual(await flags(`status equals active  ,activePhaseId equals ${ids[1]}  `), ['at1'])
    assert.deepEqual(await flags(`activePhaseId equals "${ids[0]}" , status equals active`), ['at0'])
    assert.deepEqual(await flags('activePhaseId equals "a\\"b"'), [])
    assert.deepEqual(await flags('   '), ['at0', 'at1', 'at3'])
    const refused = async (filter, message) => refusal(await call(server, 'GET', `${PATH}?filter=${encodeURIComponent(filter)}`), 400, 'invalid_request', message)
    const use = 'use status equals "active" or activePhaseId equals "<phase id>"'
    await refused('flagKey equals x, status equals active', `unsupported filter "flagKey equals x": ${use}`)
    await refused('status equals active, flagKey equals x', `unsupported filter "flagKey equals x": ${use}`)
    await refused('status  is active', `unsupported filter "status  is active": ${use}`)
    await refused('status equals "active', `unsupported filter "status equals \\"active": ${use}`)
    await refused('xstatus equals active', `unsupported filter "xstatus equals active": ${use}`)
    await refused('status equals active x', 'status must be active or completed')
    await refused('status equals paused', 'status must be active or completed')
    await refused('status equals ""', 'status must be active or completed')
    await refused(`status equals completed,activePhaseId equals ${ids[0]}`, 'status equals completed cannot be combined with an activePhaseId filter')
    await refused('status equals active,limit=1', `unsupported filter "limit=1": ${use}`)
    await refusal(await call(server, 'GET', `${PATH}?limit=101`), 400, 'invalid_request', 'limit must be an integer from 1 to 100')
  })
})

describe('routes, headers and the method override', () => {
  test('a POST with X-HTTP-Method-Override: patch (any case, spaces around) is a PATCH on the release route only', async (t) => {
    const server = await start(t)
    const res = await call(server, 'POST', RELEASE, { body: [complete(0)], headers: { 'X-HTTP-Method-Override': ' patch ' } })
    assert.equal((await json(res))._version, 2)
    await refusal(await call(server, 'POST', RELEASE, { body: [complete(1)], headers: { 'X-HTTP-Method-Override': 'PUT' } }), 405, 'method_not_allowed', `POST is not allowed on ${RELEASE}`)
    await refusal(await call(server, 'PUT', RELEASE, { body: [complete(1)], headers: { 'X-HTTP-Method-Override': 'PATCH' } }), 405, 'method_not_allowed', `PUT is not allowed on ${RELEASE}`)
    // Elsewhere the override is not read: a POST to the pipelines list still creates one.
    const made = await call(server, 'POST', '/api/v2/projects/web/release-pipelines', {
      body: { key: 'via-post', name: 'Via POST', phases: [{ name: 'One', audiences: [] }] },
      headers: { 'X-HTTP-Method-Override': 'PATCH' },
    })
    assert.equal(made.status, 201)
    await made.text()
    await refusal(await call(server, 'POST', '/api/v2/projects/web/release-pipelines/via-post', { body: {}, headers: { 'X-HTTP-Method-Override': 'PATCH' } }), 405, 'method_not_allowed', 'POST is not allowed on /api/v2/projects/web/release-pipelines/via-post')
    await refusal(await call(server, 'POST', '/api/v2/nothing', { body: [], headers: { 'X-HTTP-Method-Override': 'PATCH' } }), 404, 'not_found', 'Invalid resource identifier')
    // The first of two overrides counts.
    const [first] = await Promise.all([rawRequest(server, 'POST', '/api/v2/flags/web/none/release', { Authorization: KEY, 'LD-API-Version': 'beta', 'X-HTTP-Method-Override': ['PUT', 'PATCH'] })])
    assert.equal(first.status, 405)
  })

  test('header names in any case; the first Authorization counts', async (t) => {
    const server = await start(t)
    assert.equal((await rawRequest(server, 'GET', RELEASE, { AUTHORIZATION: KEY, 'Ld-Api-Version': 'beta' })).status, 200)
    assert.equal((await rawRequest(server, 'GET', RELEASE, { Authorization: [KEY, 'other'], 'LD-API-Version': 'beta' })).status, 200)
    assert.equal((await rawRequest(server, 'GET', RELEASE, { Authorization: ['other', KEY], 'LD-API-Version': 'beta' })).status, 401)
    const recorded = server.requests.at(-1)
    assert.equal(recorded.headers.authorization, `other, ${KEY}`)
    assert.deepEqual(server.requests[0].rawHeaders.slice(0, 4), ['AUTHORIZATION', KEY, 'Ld-Api-Version', 'beta'])
    assert.equal(server.requests[0].headers['ld-api-version'], 'beta')
  })

  test('the flag route is not a beta endpoint: it needs the token, not the header', async (t) => {
    const server = await start(t)
    assert.equal((await call(server, 'GET', '/api/v2/flags/web/new-checkout', { beta: false })).status, 200)
    await refusal(await call(server, 'GET', '/api/v2/flags/web/new-checkout', { auth: false, beta: false }), 401, 'unauthorized', 'Invalid access token')
    await refusal(await call(server, 'GET', '/api/v2/projects/web/release-policies', { beta: false }), 403, 'forbidden', 'This API is in beta. To use it, your request must include the header `LD-API-Version: beta`.')
    assert.equal((await call(server, 'GET', '/api/v2/projects/web/release-policies')).status, 200)
  })

  test('a request sent in pieces is recorded whole; a JSON body is parsed, other bodies are not', async (t) => {
    const server = await start(t)
    await new Promise((resolve, reject) => {
      const req = httpRequest(`${server.url}${RELEASE}`, { method: 'PATCH', headers: { Authorization: KEY, 'LD-API-Version': 'beta', 'Content-Type': 'application/json' }, agent: false }, (res) => {
        res.resume()
        res.on('end', resolve)
      })
      req.on('error', reject)
      req.write('[{"op":"replace",')
      setTimeout(() => req.end('"path":"/phases/0/complete","value":true}]'), 20)
    })
    assert.deepEqual(server.requests[0].json, [complete(0)])
    assert.equal(server.getRelease('web', 'new-checkout').phases[0].complete, true)
    await call(server, 'POST', '/api/v2/nothing', { body: '5' })
    assert.equal(server.requests[1].json, 5)
    await call(server, 'POST', '/api/v2/nothing', { body: 'null' })
    assert.equal(server.requests[2].json, null)
    assert.equal('json' in server.requests[2], true)
  })
})

describe('rate limits, window by window', () => {
  test('each method and route template has its own count; other releases share it; unknown paths are not counted', async (t) => {
    const server = await start(t, { rateLimit: { limit: 2, windowMs: 60000 } })
    server.setRelease('web', 'other', sampleRelease())
    const remaining = async (method, path, body) => {
      const res = await call(server, method, path, body === undefined ? {} : { body })
      await res.text()
      return [res.status, res.headers.get('x-ratelimit-route-remaining'), res.headers.get('x-ratelimit-global-remaining')]
    }
    assert.deepEqual(await remaining('GET', RELEASE), [200, '1', '99999'])
    assert.deepEqual(await remaining('GET', '/api/v2/flags/web/other/release'), [200, '0', '99998'])
    assert.deepEqual(await remaining('GET', '/api/v2/flags/web/third/release'), [429, '0', '99997'])
    assert.deepEqual(await remaining('DELETE', '/api/v2/flags/web/other/release'), [204, '1', '99996'])
    assert.deepEqual(await remaining('GET', '/api/v2/projects/web/release-pipelines'), [200, '1', '99995'])
    assert.deepEqual(await remaining('GET', '/api/v2/projects/web/release-pipelines/standard-rollout'), [200, '1', '99994'])
    const unknown = await call(server, 'GET', '/api/v2/nothing')
    await unknown.text()
    assert.equal(unknown.headers.get('x-ratelimit-route-remaining'), null)
    assert.deepEqual(await remaining('GET', '/api/v2/projects/web/release-pipelines'), [200, '0', '99993'], 'the unknown path took none')
    assert.equal(server.rateLimited, 1)
    const limited = await call(server, 'GET', RELEASE)
    assert.equal(limited.headers.get('x-ratelimit-route-remaining'), '0')
    await refusal(limited, 429, 'rate_limited', "You've exceeded the API rate limit. Try again later.")
    assert.equal(server.rateLimited, 2)
  })

  test('the account limit refuses a route with requests left; its reset is the route window\'s', async (t) => {
    const server = await start(t, { rateLimit: { limit: 5, globalLimit: 2 } })
    const answers = []
    for (const path of [RELEASE, '/api/v2/projects/web/release-pipelines', '/api/v2/projects/web/release-pipelines']) answers.push(await call(server, 'GET', path))
    await Promise.all(answers.map((r) => r.text()))
    assert.deepEqual(answers.map((r) => [r.status, r.headers.get('x-ratelimit-route-remaining'), r.headers.get('x-ratelimit-global-remaining')]), [
      [200, '4', '1'],
      [200, '4', '0'],
      [429, '3', '0'],
    ])
    const reset = Number(answers[0].headers.get('x-ratelimit-reset'))
    assert.ok(reset - Date.now() > 9000 && reset - Date.now() <= 10000, 'a 10 s window by default')
  })

  test('a window that has passed is followed by one aligned on it, however long the pause', async (t) => {
    const server = await start(t, { rateLimit: { limit: 1, windowMs: 100, tokenLimit: 1, tokenWindowMs: 100 } })
    const first = await call(server, 'GET', RELEASE)
    await first.text()
    const reset = Number(first.headers.get('x-ratelimit-reset'))
    const tokenReset = Number(first.headers.get('x-ratelimit-auth-token-reset'))
    assert.equal(first.headers.get('x-ratelimit-auth-token-remaining'), '0')
    assert.equal(first.headers.get('x-ratelimit-auth-token-limit'), '1')
    await sleep(Math.max(0, reset - Date.now()) + 260)
    const later = await call(server, 'GET', RELEASE)
    await later.text()
    assert.equal(later.status, 200)
    const next = Number(later.headers.get('x-ratelimit-reset'))
    assert.equal((next - reset) % 100, 0, `${next} is a whole number of windows after ${reset}`)
    assert.ok(next > Date.now() && next <= Date.now() + 100)
    assert.equal((Number(later.headers.get('x-ratelimit-auth-token-reset')) - tokenReset) % 100, 0)
    const over = await call(server, 'GET', RELEASE)
    await over.text()
    assert.equal(over.status, 429)
    assert.equal(over.headers.get('x-ratelimit-reset'), String(next))
  })

  test('the token limit alone refuses, with its own headers', async (t) => {
    const server = await start(t, { rateLimit: { limit: 10, tokenLimit: 1 } })
    const [a, b] = [await call(server, 'GET', RELEASE), await call(server, 'GET', RELEASE)]
    await Promise.all([a.text(), b.text()])
    assert.deepEqual([a.status, b.status], [200, 429])
    assert.deepEqual([b.headers.get('x-ratelimit-route-remaining'), b.headers.get('x-ratelimit-auth-token-remaining')], ['8', '0'])
    const tokenReset = Number(a.headers.get('x-ratelimit-auth-token-reset'))
    assert.ok(tokenReset - Date.now() > 50000 && tokenReset - Date.now() <= 60000, 'a 60 s token window by default')
  })

  test('a fault answers before the rate limit, and its headers win over the limit\'s', async (t) => {
    const server = await start(t, { rateLimit: { limit: 1 } })
    server.injectFault({ delayMs: 1, headers: { 'X-Ratelimit-Route-Remaining': 77 } })
    const res = await call(server, 'GET', RELEASE)
    await res.text()
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-ratelimit-route-remaining'), '77')
    assert.equal(res.headers.get('x-ratelimit-global-remaining'), '99999')
    server.injectFault({ status: 503 })
    const faulted = await call(server, 'GET', RELEASE)
    await faulted.text()
    assert.equal(faulted.status, 503)
    assert.equal(faulted.headers.get('x-ratelimit-route-remaining'), null, 'not counted')
  })
})

describe('faults, in detail', () => {
  test('a fault matches its method in any case, a POST overridden as PATCH by either name, and the decoded path of any request', async (t) => {
    const server = await start(t)
    server.injectFault({ match: { method: 'patch' }, status: 418 })
    assert.equal((await call(server, 'GET', RELEASE).then(async (r) => [r.status, await r.text()]))[0], 200)
    const overridden = await call(server, 'POST', RELEASE, { body: [complete(0)], headers: { 'X-HTTP-Method-Override': 'PATCH' } })
    assert.deepEqual(await json(overridden), { code: 'error', message: "418 I'm a Teapot" })
    server.injectFault({ match: { method: 'POST', path: RELEASE }, status: 599 })
    const byRaw = await call(server, 'POST', RELEASE, { body: [complete(0)], headers: { 'X-HTTP-Method-Override': 'PATCH' } })
    assert.equal(byRaw.status, 599)
    assert.deepEqual(await byRaw.json(), { code: 'internal_server_error', message: '599 error' })
    server.injectFault({ match: { path: '/api/v2/no thing' }, status: 500 })
    server.injectFault({ match: { path: '/api/v2/nothing' }, status: 502 })
    const unknown = await call(server, 'GET', '/api/v2/no%20thing?x=1')
    assert.deepEqual(await unknown.json(), { code: 'internal_server_error', message: '500 Internal Server Error' })
    const second = await call(server, 'GET', '/api/v2/nothing')
    assert.equal(second.status, 502, 'the first fault that matches is taken, not the first queued')
    await second.text()
    const bad = await call(server, 'GET', '/api/v2/%ZZ')
    assert.equal(bad.status, 404)
    await bad.text()
    server.injectFault({ match: { path: '/api/v2/flags/web/new-checkout/release' }, status: 500, times: 0 })
    assert.equal((await call(server, 'GET', RELEASE).then(async (r) => [r.status, await r.text()]))[0], 500, 'times 0 applies once')
    assert.equal((await call(server, 'GET', RELEASE).then(async (r) => [r.status, await r.text()]))[0], 200)
  })

  test("each status fault's default words, as LaunchDarkly writes them", async (t) => {
    const server = await start(t)
    const expected = {
      400: ['invalid_request', 'Invalid request body'],
      401: ['unauthorized', 'Invalid access token'],
      403: ['forbidden', 'Forbidden. Access to the requested resource was denied.'],
      404: ['not_found', 'Invalid resource identifier'],
      405: ['method_not_allowed', '405 Method Not Allowed'],
      409: ['conflict', 'This request conflicts with a concurrent API request. Retry the request.'],
      422: ['unprocessable_entity', '422 Unprocessable Entity'],
      429: ['rate_limited', "You've exceeded the API rate limit. Try again later."],
      499: ['error', '499 error'],
      500: ['internal_server_error', '500 Internal Server Error'],
      504: ['internal_server_error', '504 Gateway Timeout'],
    }
    for (const [status, [code, message]] of Object.entries(expected)) {
      server.injectFault({ status: Number(status) })
      const res = await call(server, 'GET', RELEASE)
      assert.equal(res.status, Number(status))
      assert.deepEqual(await json(res), { code, message }, status)
    }
  })

  test('a status fault body: a string is sent as it is, with a type from its first character; the type can be given', async (t) => {
    const server = await start(t)
    for (const [fault, type, text] of [
      [{ body: '  <p>down</p>' }, 'text/html', '  <p>down</p>'],
      [{ body: 'x<y' }, 'text/plain', 'x<y'],
      [{ body: '<p>', contentType: 'text/x-custom' }, 'text/x-custom', '<p>'],
      [{ body: { a: 'é' }, contentType: 'application/vnd+json' }, 'application/vnd+json', '{"a":"é"}'],
      [{ body: ['x'] }, 'application/json', '["x"]'],
    ]) {
      server.injectFault({ status: 500, ...fault })
      const res = await call(server, 'GET', RELEASE)
      assert.equal(res.headers.get('content-type'), type)
      const body = await res.text()
      assert.equal(body, text)
      assert.equal(Number(res.headers.get('content-length')), Buffer.byteLength(text))
    }
  })

  test('the body faults carry the fault headers; trickle sends the sample release on a path that holds none', async (t) => {
    const server = await start(t)
    server.injectFault({ malformed: true, headers: { 'X-Fault': 'malformed' } })
    const malformed = await call(server, 'GET', RELEASE)
    assert.equal(malformed.headers.get('x-fault'), 'malformed')
    const text = await malformed.text()
    assert.equal(text, '{"name": "Standard rollout", "phases": [<html>')
    assert.equal(Number(malformed.headers.get('content-length')), text.length)
    server.injectFault({ trickleMs: 1, headers: { 'X-Fault': 'trickle' } })
    const trickled = await call(server, 'GET', '/api/v2/nothing')
    assert.equal(trickled.headers.get('x-fault'), 'trickle')
    const body = await trickled.text()
    assert.deepEqual(JSON.parse(body), sampleRelease())
    assert.equal(Number(trickled.headers.get('content-length')), Buffer.byteLength(body))
    server.injectFault({ oversizeBytes: 100, headers: { 'X-Fault': 'oversize' } })
    const oversize = await call(server, 'GET', RELEASE)
    assert.equal(oversize.headers.get('x-fault'), 'oversize')
    const big = await oversize.text()
    assert.equal(big, `{"name":"${'a'.repeat(90)}"}`)
    server.injectFault({ drop: 'mid-body', headers: { 'X-Fault': 'mid' } })
    const mid = await call(server, 'GET', RELEASE)
    assert.equal(mid.headers.get('x-fault'), 'mid')
    const length = Number(mid.headers.get('content-length'))
    assert.equal(length, Buffer.byteLength(JSON.stringify(sampleRelease())))
    let got = 0
    await assert.rejects(async () => {
      for await (const chunk of mid.body) got += chunk.length
    })
    assert.equal(got, Math.floor(length / 3))
  })

  test('an oversize body of a few chunks ends with its closing quote, about the size asked', async (t) => {
    const server = await start(t)
    const size = 3 * 64 * 1024 + 5
    server.injectFault({ oversizeBytes: size })
    const text = await (await call(server, 'GET', RELEASE)).text()
    assert.ok(text.startsWith('{"name":"aaa') && text.endsWith('a"}'))
    assert.equal(text.length, size + 1)
    assert.doesNotThrow(() => JSON.parse(text))
  })

  test('a fault that answers (or breaks) a write leaves it unmade', async (t) => {
    const server = await start(t)
    for (const fault of [{ stallMs: 20 }, { drop: 'before-response' }, { drop: 'mid-body' }, { malformed: true }, { oversizeBytes: 100 }, { trickleMs: 1 }, { status: 500 }]) {
      server.injectFault({ match: { method: 'PATCH' }, ...fault })
      const res = await patch(server, [complete(0)]).catch((error) => error)
      if (res instanceof Response) await res.text().catch(() => {})
      await sleep(30)
      assert.equal(server.getRelease('web', 'new-checkout')._version, 1, JSON.stringify(fault))
    }
  })

  test('a write whose client goes away during its delay or its trickle is not made', async (t) => {
    const server = await start(t)
    server.injectFault({ match: { method: 'PATCH' }, delayMs: 100 })
    const controller = new AbortController()
    const pending = patch(server, [complete(0)], { signal: controller.signal })
    await sleep(30)
    controller.abort()
    await assert.rejects(pending, { name: 'AbortError' })
    await sleep(150)
    assert.equal(server.getRelease('web', 'new-checkout')._version, 1)
    server.injectFault({ match: { method: 'PATCH' }, trickleMs: 20 })
    const trickling = new AbortController()
    const res = await patch(server, [complete(0)], { signal: trickling.signal })
    assert.equal(res.headers.get('content-type'), 'application/json')
    const reader = res.body.getReader()
    await reader.read()
    trickling.abort()
    await sleep(100)
    assert.equal(server.getRelease('web', 'new-checkout')._version, 1)
    assert.equal((await patch(server, [complete(0)])).status, 200, 'the next one is made')
  })

  test('a write held by a delay is not made when the fake closes meanwhile', async (t) => {
    const server = await start(t)
    server.injectFault({ match: { method: 'PATCH' }, delayMs: 100 })
    const pending = patch(server, [complete(0)])
    while (server.requests.length === 0) await sleep(5)
    const closed = server.close()
    await assert.rejects(pending, TypeError)
    await closed
    await sleep(150)
    assert.equal(server.getRelease('web', 'new-checkout')._version, 1)
  })

  test('it listens on 127.0.0.1 only', async (t) => {
    const server = await start(t)
    await assert.rejects(fetch(`http://[::1]:${server.port}${RELEASE}`), TypeError)
    const { networkInterfaces } = await import('node:os')
    const outside = Object.values(networkInterfaces()).flat().find((a) => a.family === 'IPv4' && !a.internal)
    if (outside) await assert.rejects(fetch(`http://${outside.address}:${server.port}${RELEASE}`), TypeError)
  })

  test('a fault whose drop is unknown, with nothing else, only adds its headers', async (t) => {
    const server = await start(t)
    server.injectFault({ drop: 'sometimes', headers: { 'X-Seen': 1 } })
    const res = await call(server, 'GET', RELEASE)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-seen'), '1')
    await res.text()
  })

  test('an applied fault: the write is made, and its answer dropped, replaced or held', async (t) => {
    const server = await start(t)
    server.injectFault({ match: { method: 'PATCH' }, applied: true, drop: 'before-response' })
    await assert.rejects(patch(server, [complete(0)]), TypeError)
    assert.equal(server.getRelease('web', 'new-checkout')._version, 2, 'applied')
    server.injectFault({ match: { method: 'PATCH' }, applied: true, status: 502, body: '<html>bad gateway</html>' })
    const replaced = await patch(server, [complete(1)])
    assert.equal(replaced.status, 502)
    assert.equal(await replaced.text(), '<html>bad gateway</html>')
    assert.equal(server.getRelease('web', 'new-checkout')._version, 3)
    server.injectFault({ match: { method: 'DELETE' }, applied: true, headers: { 'X-Late': 'yes' } })
    const held = await call(server, 'DELETE', RELEASE)
    assert.deepEqual([held.status, held.headers.get('x-late'), await held.text()], [204, 'yes', ''])
    // A refusal is kept as it was, with its own headers, and the fault's.
    server.injectFault({ applied: true, headers: { 'X-Late': 'no' } })
    const refused = await call(server, 'GET', RELEASE)
    assert.equal(refused.headers.get('x-late'), 'no')
    await refusal(refused, 404, 'not_found', 'No release for flag new-checkout in project web')
    // Closing the fake while an applied answer is held sends nothing.
    server.setRelease('web', 'new-checkout', sampleRelease())
    server.injectFault({ applied: true, delayMs: 200 })
    const pending = call(server, 'GET', RELEASE)
    while (server.requests.length < 5) await sleep(5)
    await server.close()
    await assert.rejects(pending, TypeError)
  })

  test('closing the fake during a delay or a trickle ends the request', async (t) => {
    const server = await start(t)
    server.injectFault({ delayMs: 300, status: 500 })
    const delayed = call(server, 'GET', RELEASE)
    while (server.requests.length < 1) await sleep(5)
    const closed = server.close()
    await assert.rejects(delayed, TypeError)
    await closed
    const other = await start(t)
    other.injectFault({ trickleMs: 30 })
    const res = await call(other, 'GET', RELEASE)
    const reader = res.body.getReader()
    await reader.read()
    const begin = performance.now()
    await other.close()
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) break
    })
    assert.ok(performance.now() - begin < 1000)
  })
})

describe('the samples', () => {
  const { sampleReleases, sampleNewPipelineRelease, samplePipeline, sampleNewPipeline } = require('../testing/index.js')

  test('each sample, field by field, and every pipeline a project starts with', async (t) => {
    const { readFileSync } = await import('node:fs')
    const expected = JSON.parse(readFileSync(new URL('./fixtures/fake-samples.json', import.meta.url), 'utf8'))
    assert.deepEqual(sampleRelease(), expected.sampleRelease)
    assert.deepEqual(sampleNewPipelineRelease(), expected.sampleNewPipelineRelease)
    assert.deepEqual(samplePipeline(), expected.samplePipeline)
    assert.deepEqual(sampleNewPipeline(), expected.sampleNewPipeline)
    const server = await start(t)
    const listed = await json(await call(server, 'GET', '/api/v2/projects/any/release-pipelines'))
    assert.deepEqual(listed, { items: [expected.samplePipeline, expected.sampleNewPipeline], totalCount: 2 })
  })

  test('sampleReleases: the five releases of ld-release fake, fresh each time', () => {
    const releases = sampleReleases()
    assert.deepEqual(releases.map((r) => [r.projectKey, r.flagKey, r.release.releasePipelineKey]), [
      ['web', 'new-checkout', 'standard-rollout'],
      ['web', 'dark-mode', 'standard-rollout'],
      ['web', 'search-v2', 'standard-rollout'],
      ['web', 'progressive-checkout', 'progressive-rollout'],
      ['web', 'progressive-search', 'progressive-rollout'],
    ])
    assert.deepEqual(releases[1].release, { ...sampleRelease(), _links: { self: { href: '/api/v2/flags/web/dark-mode/release', type: 'application/json' } } })
    assert.deepEqual(releases[4].release, sampleNewPipelineRelease())
    releases[0].release.phases.length = 0
    assert.equal(sampleReleases()[0].release.phases.length, 3)
  })

  test('the sample new release and pipelines: fields, environments and overrides', () => {
    const release = sampleNewPipelineRelease({ _version: 4 })
    assert.equal(release._version, 4)
    assert.deepEqual([release.name, release.releasePipelineKey, release.releasePipelineDescription, release._releaseVariationId], ['Progressive rollout', 'progressive-rollout', '', '6650a1b2c3d4e5f6071829ff'])
    assert.deepEqual(release.phases.map((p) => [p._id, p._name, p.status, p.started]), [
      ['7750b1c2d3e4f5a607182930', 'QA', 'active', true],
      ['7750b1c2d3e4f5a607182931', 'Beta', 'not-started', false],
      ['7750b1c2d3e4f5a607182932', 'General availability', 'not-started', false],
    ])
    assert.deepEqual(release.phases[0]._audiences, [
      { _id: '7750b1c2d3e4f5a60718aa00', name: 'Test', environment: { key: 'test', name: 'Test', color: 'f5a623' }, configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false }, status: 'active' },
    ])
    assert.equal(release.phases[0]._creationDate, 1766084905114)
    assert.deepEqual(release.phases[0].configuration, {})
    const legacy = samplePipeline({ name: 'Renamed' })
    assert.deepEqual([legacy.key, legacy.name, legacy.description, legacy._isLegacy, legacy.isProjectDefault, legacy._version, legacy.tags], ['standard-rollout', 'Renamed', 'Test first, then staging, then everyone', true, true, 1, []])
    assert.deepEqual(legacy._links, { self: { href: '/api/v2/projects/web/release-pipelines/standard-rollout', type: 'application/json' } })
    assert.deepEqual(legacy.phases[2], {
      id: sampleRelease().phases[2]._id,
      name: 'Production',
      audiences: [{ name: 'Production', environment: { key: 'production', name: 'Production', color: '417505' }, configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false } }],
    })
    const fresh = sampleNewPipeline()
    assert.deepEqual([fresh.key, fresh.name, fresh.description, fresh._isLegacy, fresh.isProjectDefault, fresh.createdAt], ['progressive-rollout', 'Progressive rollout', '', false, false, '2025-09-16T22:01:04.602697Z'])
    assert.deepEqual(fresh.phases.map((p) => p.audiences[0].environment.key), ['test', 'staging', 'production'])
  })
})

describe('what a write leaves of the phases around it', () => {
  const { sampleNewPipelineRelease } = require('../testing/index.js')

  test('completing a phase starts the next only when it has not started: a paused next phase stays paused', async (t) => {
    const server = await start(t)
    const staging = sampleRelease().phases[1]
    const paused = await call(server, 'PUT', `/api/v2/projects/web/flags/new-checkout/release/phases/${staging._id}`, { body: { status: 'Paused' } })
    const pausedDate = (await json(paused)).phases[1]._startedDate
    assert.equal(pausedDate, undefined, 'paused before it started')
    await call(server, 'PUT', `/api/v2/projects/web/flags/new-checkout/release/phases/${staging._id}`, { body: { status: 'Started' } }).then((r) => r.text())
    await call(server, 'PUT', `/api/v2/projects/web/flags/new-checkout/release/phases/${staging._id}`, { body: { status: 'Paused' } }).then((r) => r.text())
    const after = await json(await patch(server, [complete(0)]))
    assert.equal(after.phases[1].status, 'Paused')
    assert.equal(after.phases[1].started, true)
  })

  test('a new pipeline: each start completes only the phases not complete yet, and keeps the start of those already started', async (t) => {
    const server = await start(t, { releases: [{ projectKey: 'web', flagKey: 'fresh', release: sampleNewPipelineRelease() }] })
    const ids = sampleNewPipelineRelease().phases.map((p) => p._id)
    const path = (id) => `/api/v2/projects/web/flags/fresh/release/phases/${id}`
    const first = await json(await call(server, 'PUT', path(ids[1]), { body: { status: 'active' } }))
    assert.equal(first.phases[0]._startedDate, 1766084905114, 'QA kept its start')
    assert.equal(first.phases[0]._creationDate, 1766084905114)
    const qaDone = first.phases[0]._completionDate
    await sleep(5)
    const second = await json(await call(server, 'PUT', path(ids[2]), { body: { status: 'active' } }))
    assert.equal(second.phases[0]._completionDate, qaDone, 'QA was complete already')
    assert.deepEqual(second.phases[0], first.phases[0])
    assert.ok(second.phases[1]._completionDate > qaDone)
    assert.equal(second.phases[1]._startedDate, first.phases[1]._startedDate)
  })
})
