// Answers shaped like LaunchDarkly's real ones (sparse phases, environments without
// `_links`, kebab-case statuses, missing `_version`), and completion on both kinds of
// release pipeline: legacy (the JSON Patch) and new (start the next phase).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { IDS, recordedNew, recordedStarted } from './fixtures/recorded.mjs'
import { TOKEN, client, expectLdError, fake, ld, sampleRelease, tinyServer } from './helpers.mjs'

const require = (await import('node:module')).createRequire(import.meta.url)
const { sampleNewPipelineRelease } = require('../testing/index.js')

const recordedRelease = recordedNew
const startedAnswer = recordedStarted

const pipelineAnswer = (legacy) => ({
  key: 'two-step',
  name: 'Two-step',
  createdAt: '2025-09-16T22:01:04.602697Z',
  phases: IDS.map((id, i) => ({ id, name: ['QA', 'Beta', 'GA'][i], audiences: [] })),
  _isLegacy: legacy,
  isProjectDefault: false,
})

/**
 * A server answering as LaunchDarkly did for a release of a new pipeline (or, with
 * `pipeline: 403`, refusing to show the pipeline): the PATCH is refused with 400 and the
 * phase-status PUT accepts only `active`.
 */
async function recordedServer(t, { pipeline = 'new' } = {}) {
  let phaseStarted = -1
  return tinyServer(t, (req, body) => {
    const path = req.url
    if (path.includes('/release-pipelines/')) {
      if (pipeline === 403) return { status: 403, body: { code: 'forbidden', message: 'Access to the requested resource was denied' } }
      return { body: pipelineAnswer(pipeline === 'legacy') }
    }
    if (req.method === 'GET') return { body: phaseStarted < 0 ? recordedRelease() : startedAnswer(phaseStarted) }
    if (req.method === 'PATCH') {
      return { status: 400, body: { code: 'invalid_request', message: 'Updating a release with a JSON patch is only available for releases that are part of a legacy release pipeline' } }
    }
    if (req.method === 'PUT' && path.includes('/release/phases/')) {
      const status = JSON.parse(body).status
      if (String(status).toLowerCase() !== 'active') {
        return { status: 400, body: { code: 'invalid_request', message: 'Phase status can only be manually updated to `Active`.' } }
      }
      phaseStarted = IDS.indexOf(decodeURIComponent(path.split('/').pop()))
      return { body: startedAnswer(phaseStarted) }
    }
    if (req.method === 'PUT') return { body: recordedRelease() }
    return { status: 405, body: { code: 'method_not_allowed', message: 'no' } }
  })
}

const route = (request) => {
  const path = request.url ?? request.path
  const what = path.includes('/release-pipelines/') ? 'pipeline' : path.includes('/phases/') ? `phase ${IDS.indexOf(path.split('/').pop())}` : 'release'
  return `${request.method} ${what}`
}

test('every call resolves to the sparse answers the service really sends, as sent', async (t) => {
  const server = await recordedServer(t)
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 })
  assert.deepEqual(await c.getRelease('web', 'checkout'), recordedRelease())
  assert.deepEqual(await ld.getRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: server.url }), recordedRelease())
  assert.deepEqual(await c.createRelease('web', 'checkout', { releasePipelineKey: 'two-step' }), recordedRelease())
  const started = await c.updatePhaseStatus('web', 'checkout', IDS[0], { status: 'active' })
  assert.deepEqual(started, startedAnswer(0))
  assert.ok(!('_version' in started) && !('_links' in started), 'nothing invented')
  assert.equal(started.phases[0]._audiences[0].environment._links, undefined)
  assert.deepEqual(server.requests.at(-1).body, '{"status":"active"}')
  const refused = await expectLdError(() => c.updatePhaseStatus('web', 'checkout', IDS[1], { status: 'Completed' }), {
    code: 'ERR_LD_BAD_REQUEST',
    status: 400,
    apiMessage: 'Phase status can only be manually updated to `Active`.',
  })
  assert.match(refused.message, /only be manually updated/)
})

test('completePhase on a new pipeline starts the next phase; the client then never sends the PATCH', async (t) => {
  const server = await recordedServer(t)
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 })
  const first = await c.completePhase('web', 'checkout', 0)
  assert.deepEqual(first, startedAnswer(1))
  assert.equal(first.phases[0].status, 'completed')
  assert.equal(first.phases[1].status, 'active')
  // The release and its pipeline are read; phase 1 is started; the PATCH is never sent.
  assert.deepEqual(server.requests.map(route), ['GET release', 'GET pipeline', 'PUT phase 1'])
  assert.equal(server.requests[2].body, '{"status":"active"}')
  assert.equal(server.requests[2].headers['ld-api-version'], 'beta')

  server.requests.length = 0
  const second = await c.completePhase('web', 'checkout', { name: 'Beta' })
  assert.equal(second.phases[2].status, 'active')
  assert.deepEqual(server.requests.map(route), ['GET release', 'PUT phase 2'], 'no PATCH, no second read of the pipeline')
  server.requests.length = 0
  await c.completePhase('web', 'checkout', 0)
  assert.deepEqual(server.requests.map(route), ['GET release'], 'a phase already complete needs no write')
})

test('a new pipeline cannot complete its last phase nor reopen one: ERR_LD_UNSUPPORTED, nothing written', async (t) => {
  const server = await recordedServer(t)
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 })
  const last = await expectLdError(() => c.completePhase('web', 'checkout', { name: 'GA' }), { code: 'ERR_LD_UNSUPPORTED', status: undefined })
  assert.match(last.message, /last phase/)
  assert.match(last.message, /Nothing was changed/)
  const reopen = await expectLdError(() => c.reopenPhase('web', 'checkout', 0), { code: 'ERR_LD_UNSUPPORTED' })
  assert.match(reopen.message, /cannot be reopened/)
  const byIndex = await expectLdError(() => ld.completePhase('web', 'checkout', 2, { apiKey: TOKEN, baseUrl: server.url }), {
    code: 'ERR_LD_UNSUPPORTED',
  })
  assert.match(byIndex.message, /last phase/)
  const writes = server.requests.filter((r) => r.method !== 'GET')
  assert.deepEqual(writes, [], 'nothing but reads was sent: no PUT, no PATCH')
})

test('startPhase sends {"status":"active"} for a phase by id (one request), index or name', async (t) => {
  const server = await recordedServer(t)
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 })
  assert.deepEqual(await c.startPhase('web', 'checkout', { id: IDS[0] }), startedAnswer(0))
  assert.deepEqual(server.requests.map(route), ['PUT phase 0'])
  server.requests.length = 0
  assert.equal((await c.startPhase('web', 'checkout', 1)).phases[1].status, 'active')
  assert.equal((await ld.startPhase('web', 'checkout', { name: 'GA' }, { apiKey: TOKEN, baseUrl: server.url })).phases[2].status, 'active')
  assert.deepEqual(server.requests.map(route), ['GET release', 'PUT phase 1', 'GET release', 'PUT phase 2'])
  assert.ok(server.requests.every((r) => r.method !== 'PUT' || r.body === '{"status":"active"}'))
  const unknown = await expectLdError(() => c.startPhase('web', 'checkout', { name: 'Staging' }), { code: 'ERR_LD_INVALID_ARGUMENT' })
  assert.match(unknown.message, /no phase named "Staging"; the phases are 0: "QA", 1: "Beta", 2: "GA"/)
})

test('a pipeline the token may not read: the client falls back to the PATCH and reports its answer', async (t) => {
  const server = await recordedServer(t, { pipeline: 403 })
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 })
  const error = await expectLdError(() => c.completePhase('web', 'checkout', { name: 'QA' }), { code: 'ERR_LD_BAD_REQUEST', status: 400 })
  assert.match(error.apiMessage, /legacy release pipeline/)
  // The guarded PATCH, refused; the release is read again to tell a conflict from a refusal.
  assert.deepEqual(server.requests.map(route), ['GET release', 'GET pipeline', 'PATCH release', 'GET release'])
  assert.deepEqual(JSON.parse(server.requests[2].body)[0], { op: 'test', path: '/phases/0/_id', value: IDS[0] })
  server.requests.length = 0
  await expectLdError(() => c.completePhase('web', 'checkout', { name: 'QA' }), { code: 'ERR_LD_BAD_REQUEST' })
  assert.deepEqual(
    server.requests.map(route),
    ['GET release', 'GET pipeline', 'PATCH release', 'GET release'],
    'a refused read is not remembered: the pipeline is asked again',
  )
})

test('an accepted write whose answer is unusable says it was accepted, with an excerpt', async (t) => {
  const server = await tinyServer(t, () => ({ status: 200, body: '<html>Saved.</html>', headers: { 'content-type': 'text/html' } }))
  const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 3 })
  const error = await expectLdError(() => c.patchRelease('web', 'checkout', ld.phasePatch(0, true)), {
    code: 'ERR_LD_DECODE',
    status: 200,
    attempts: 1,
    bodyExcerpt: '<html>Saved.</html>',
  })
  assert.match(error.message, /^The server accepted the request \(HTTP 200\) but its body is not valid JSON/)
  assert.equal(server.requests.length, 1, 'an accepted write is never sent again')
  const notObject = await tinyServer(t, () => ({ body: '[1,2]' }))
  await expectLdError(() => new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: notObject.url }).getRelease('web', 'f'), {
    code: 'ERR_LD_DECODE',
    bodyExcerpt: '[1,2]',
  })
})

test('both kinds end to end through the fake, one by one and in bulk', async (t) => {
  const server = await fake(t, {
    releases: [
      { projectKey: 'web', flagKey: 'old-a', release: sampleRelease() },
      { projectKey: 'web', flagKey: 'new-a', release: sampleNewPipelineRelease() },
      { projectKey: 'web', flagKey: 'old-b', release: sampleRelease() },
      { projectKey: 'web', flagKey: 'new-b', release: sampleNewPipelineRelease() },
    ],
  })
  const c = client(server)
  const newA = await c.completePhase('web', 'new-a', 0)
  assert.deepEqual(newA.phases.map((p) => p.status), ['completed', 'active', 'not-started'])
  assert.ok(!('_audiences' in newA.phases[2]), 'unstarted phases stay sparse')
  assert.equal(newA.phases[1]._audiences[0].environment._links, undefined)
  const oldA = await c.completePhase('web', 'old-a', 0)
  assert.deepEqual(oldA.phases.map((p) => p.complete), [true, false, false])

  const results = await c.completePhases([
    { projectKey: 'web', flagKey: 'old-b', phase: 0 },
    { projectKey: 'web', flagKey: 'new-b', phase: 1 },
    { projectKey: 'web', flagKey: 'new-a', phase: 2 },
    { projectKey: 'web', flagKey: 'new-b', phase: 0, complete: false },
  ])
  assert.deepEqual(
    results.map((r) => (r.ok ? r.release.phases.map((p) => p.complete) : r.error.code)),
    [[true, false, false], [true, true, false], 'ERR_LD_UNSUPPORTED', 'ERR_LD_UNSUPPORTED'],
  )
  assert.deepEqual(server.getRelease('web', 'new-b').phases.map((p) => p.status), ['completed', 'completed', 'active'])
  const patchesOfNew = server.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/new-'))
  assert.equal(patchesOfNew.length, 0, 'a release of a new pipeline never gets the PATCH')
})

test('a PATCH refused with 400 while the pipeline stays unknown is sent once, and its refusal is the answer', async (t) => {
  // The pipeline's kind stays unknown: its read is refused (403, 404), or the release
  // names no pipeline. The PATCH is then the only write, refused once: a second PATCH
  // (here one the server would accept) must never be sent, nor its answer reported.
  const REFUSAL = { code: 'invalid_request', message: 'first PATCH refused by this server' }
  for (const pipeline of [403, 404, 'none']) {
    const server = await tinyServer(t, (req) => {
      if (req.url.includes('/release-pipelines/')) {
        return { status: pipeline, body: { code: pipeline === 403 ? 'forbidden' : 'not_found', message: 'no pipeline for you' } }
      }
      const release = sampleRelease()
      if (pipeline === 'none') delete release.releasePipelineKey
      if (req.method === 'GET') return { body: release }
      if (req.method === 'PATCH') {
        const patches = server.requests.filter((r) => r.method === 'PATCH').length
        if (patches === 1) return { status: 400, body: REFUSAL }
        release.phases[0].complete = true
        return { body: release }
      }
      return { status: 405, body: { code: 'method_not_allowed', message: 'no' } }
    })
    const c = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: server.url, maxRetries: 2 })
    for (const call of [() => c.completePhase('web', 'checkout', 0), () => c.reopenPhase('web', 'checkout', 1)]) {
      server.requests.length = 0
      const error = await expectLdError(call, {
        code: 'ERR_LD_BAD_REQUEST',
        status: 400,
        apiCode: REFUSAL.code,
        apiMessage: REFUSAL.message,
        attempts: 1,
      })
      assert.match(error.message, /first PATCH refused by this server/, `pipeline ${pipeline}`)
      const patches = server.requests.filter((r) => r.method === 'PATCH')
      assert.equal(patches.length, 1, `pipeline ${pipeline}: ${server.requests.map(route).join(', ')}`)
      assert.deepEqual(server.requests.filter((r) => !['GET', 'PATCH'].includes(r.method)), [], 'no other write')
    }
  }
})
