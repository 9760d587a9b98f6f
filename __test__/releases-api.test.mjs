// The rest of the releases-beta family: create, delete, phase status, phases by name or id,
// and PATCH sent as POST with X-HTTP-Method-Override.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TOKEN, VERSION, client, failure, fake, ld, sampleRelease, sleep } from './helpers.mjs'

function assertHeaders(request, { body }) {
  assert.equal(request.headers.authorization, TOKEN)
  assert.equal(request.headers['ld-api-version'], 'beta')
  assert.equal(request.headers.accept, 'application/json')
  assert.equal(request.headers['user-agent'], `ld-release/${VERSION}`)
  assert.equal(request.headers['content-type'], body ? 'application/json' : undefined)
}

test('createRelease: PUT on the projects/ path with the pipeline key', async (t) => {
  const server = await fake(t, { releases: [] })
  const release = await client(server).createRelease('web', 'new/flag', { releasePipelineKey: 'standard-rollout', releaseVariationId: 'var-1' })
  assert.equal(release.releasePipelineKey, 'standard-rollout')
  assert.equal(release._releaseVariationId, 'var-1')
  const [request] = server.requests
  assert.equal(request.method, 'PUT')
  assert.equal(request.path, '/api/v2/projects/web/flags/new%2Fflag/release')
  assert.equal(request.body, '{"releasePipelineKey":"standard-rollout","releaseVariationId":"var-1"}')
  assertHeaders(request, { body: true })
  assert.deepEqual(server.getRelease('web', 'new/flag'), release)
})

test('createRelease: bad input is refused before sending; server errors keep their codes', async (t) => {
  const server = await fake(t, { releases: [] })
  const c = client(server)
  for (const [input, pattern] of [
    [undefined, /^input must be an object/],
    [{}, /^input: missing field `releasePipelineKey`/],
    [{ releasePipelineKey: 5 }, /^input\.releasePipelineKey: invalid type/],
    [{ releasePipelineKey: 'x', extra: true }, /^input\.extra: unknown field `extra`/],
    [{ releasePipelineKey: '' }, /^releasePipelineKey must be a non-empty string/],
  ]) {
    const err = await failure(() => c.createRelease('web', 'f', input))
    assert.equal(err.code, 'ERR_LD_INVALID_ARGUMENT')
    assert.match(err.message, pattern)
  }
  assert.equal(server.requests.length, 0)
  server.injectFault({ status: 404, body: { code: 'not_found', message: 'Unknown pipeline' } })
  const err = await failure(() => c.createRelease('web', 'f', { releasePipelineKey: 'nope' }))
  assert.equal(err.code, 'ERR_LD_NOT_FOUND')
  assert.equal(err.apiMessage, 'Unknown pipeline')
})

test('deleteRelease: DELETE resolves to undefined on 204; 404 when there is none', async (t) => {
  const server = await fake(t)
  const c = client(server)
  assert.equal(await c.deleteRelease('web', 'checkout'), undefined)
  const [request] = server.requests
  assert.equal(request.method, 'DELETE')
  assert.equal(request.path, '/api/v2/flags/web/checkout/release')
  assert.equal(request.body, '')
  assertHeaders(request, { body: false })
  assert.equal(server.getRelease('web', 'checkout'), undefined)
  const err = await failure(() => c.deleteRelease('web', 'checkout'))
  assert.equal(err.code, 'ERR_LD_NOT_FOUND')
  assert.equal(err.status, 404)
  // Module-level, with a signal already aborted: nothing is sent.
  const before = server.requests.length
  await assert.rejects(ld.deleteRelease('web', 'checkout', { apiKey: TOKEN, baseUrl: server.url, signal: AbortSignal.abort() }), { name: 'AbortError' })
  assert.equal(server.requests.length, before)
})

test('updatePhaseStatus: PUT on the phase path with the typed input', async (t) => {
  const server = await fake(t)
  const phaseId = sampleRelease().phases[1]._id
  const input = {
    status: 'Started',
    audiences: [{ audienceId: 'aud-1', releaseGuardianConfiguration: { monitoringWindowMilliseconds: 60000, rolloutWeight: 50 }, notifyTeamKeys: ['qa'] }],
  }
  const release = await client(server).updatePhaseStatus('web', 'checkout', phaseId, input)
  assert.equal(release.phases[1].status, 'Started')
  assert.equal(release._version, 2)
  const [request] = server.requests
  assert.equal(request.method, 'PUT')
  assert.equal(request.path, `/api/v2/projects/web/flags/checkout/release/phases/${phaseId}`)
  assert.deepEqual(JSON.parse(request.body), input)
  assertHeaders(request, { body: true })

  const unknown = await failure(() => client(server).updatePhaseStatus('web', 'checkout', 'no-such-phase', { status: 'Paused' }))
  assert.equal(unknown.code, 'ERR_LD_NOT_FOUND')
  const bad = await failure(() => client(server).updatePhaseStatus('web', 'checkout', phaseId, { status: 'Sideways' }))
  assert.equal(bad.code, 'ERR_LD_BAD_REQUEST')
  const typo = await failure(() => client(server).updatePhaseStatus('web', 'checkout', phaseId, { stauts: 'Started' }))
  assert.equal(typo.code, 'ERR_LD_INVALID_ARGUMENT')
  assert.match(typo.message, /unknown field `stauts`/)
  assert.equal(server.requests.length, 3)
})

test('phases by name or id: a GET, then a guarded PATCH of that index', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const byName = await c.completePhase('web', 'checkout', { name: 'Staging' })
  assert.equal(byName.phases[1].complete, true)
  const id = sampleRelease().phases[2]._id
  const byId = await ld.completePhase('web', 'checkout', { id }, { apiKey: TOKEN, baseUrl: server.url })
  assert.equal(byId.phases[2].complete, true)
  // Each client reads the release, then its pipeline once (legacy), then patches.
  assert.deepEqual(server.requests.map(route), [
    'GET release',
    'GET pipeline',
    'PATCH release',
    'GET release',
    'GET pipeline',
    'PATCH release',
  ])
  assert.deepEqual(server.requests[2].json, [
    { op: 'test', path: '/phases/1/_id', value: sampleRelease().phases[1]._id },
    { op: 'replace', path: '/phases/1/complete', value: true },
  ])
  const reopened = await c.reopenPhase('web', 'checkout', { name: 'Staging' })
  assert.equal(reopened.phases[1].complete, false)
})

test('an unknown or ambiguous phase name is an invalid argument listing the phases', async (t) => {
  const server = await fake(t)
  const c = client(server)
  const unknown = await failure(() => c.completePhase('web', 'checkout', { name: 'QA' }))
  assert.equal(unknown.code, 'ERR_LD_INVALID_ARGUMENT')
  assert.equal(unknown.message, 'no phase named "QA"; the phases are 0: "Testing", 1: "Staging", 2: "Production"')
  const twice = sampleRelease()
  twice.phases[2]._name = 'Staging'
  server.setRelease('web', 'checkout', twice)
  const ambiguous = await failure(() => c.completePhase('web', 'checkout', { name: 'Staging' }))
  assert.match(ambiguous.message, /^2 phases are named "Staging" \(indexes \[1, 2\]\)/)
  for (const phase of [{}, { name: 'a', id: 'b' }, { name: '' }, [], 'Staging']) {
    const err = await failure(() => c.completePhase('web', 'checkout', phase))
    assert.equal(err.code, 'ERR_LD_INVALID_ARGUMENT', JSON.stringify(phase))
  }
  assert.deepEqual(server.requests.map((r) => r.method), ['GET', 'GET'], 'lookups only; nothing was patched')
})

test('a release that changes between lookup and patch fails with ERR_LD_CONFLICT and changes nothing', async (t) => {
  const server = await fake(t)
  server.injectFault({ match: { method: 'PATCH' }, delayMs: 300 })
  const pending = client(server).completePhase('web', 'checkout', { name: 'Staging' })
  await sleep(100)
  // Someone reorders the pipeline while the PATCH is on its way.
  const reordered = sampleRelease({ _version: 5 })
  reordered.phases = [reordered.phases[0], reordered.phases[2], reordered.phases[1]]
  server.setRelease('web', 'checkout', reordered)
  const err = await failure(() => pending)
  assert.equal(err.code, 'ERR_LD_CONFLICT')
  assert.match(err.message, /index 1 now holds "Production"; nothing was changed/)
  assert.deepEqual(server.getRelease('web', 'checkout'), reordered)
  assert.deepEqual(server.requests.map(route), ['GET release', 'GET pipeline', 'PATCH release', 'GET release'])
})

test('methodOverride sends PATCH as POST with X-HTTP-Method-Override', async (t) => {
  const server = await fake(t)
  const release = await client(server, { methodOverride: true }).completePhase('web', 'checkout', 0)
  assert.equal(release.phases[0].complete, true)
  // The release and its pipeline are read (GETs stay GETs), then the PATCH goes as a POST.
  assert.deepEqual(
    server.requests.map((r) => r.method),
    ['GET', 'GET', 'POST'],
  )
  assert.equal(server.requests[0].headers['x-http-method-override'], undefined)
  const request = server.requests[2]
  assert.equal(request.method, 'POST')
  assert.equal(request.headers['x-http-method-override'], 'PATCH')
  assert.equal(request.body, '[{"op":"replace","path":"/phases/0/complete","value":true}]')
  // GET stays GET; the preview shows the override too.
  await client(server, { methodOverride: true }).getRelease('web', 'checkout')
  assert.equal(server.requests[3].method, 'GET')
  assert.equal(server.requests[3].headers['x-http-method-override'], undefined)
  const preview = ld.previewRequest('PATCH', 'web', 'checkout', ld.phasePatch(0, true), { methodOverride: true })
  assert.equal(preview.method, 'POST')
  assert.equal(preview.headers['X-HTTP-Method-Override'], 'PATCH')
  const err = await failure(() => new ld.ReleaseClient({ methodOverride: 'yes' }))
  assert.match(err.message, /^options\.methodOverride must be a boolean/)
})

/** `GET release`, `GET pipeline`, `PUT phase`, ...: a request's method and the resource it names. */
function route(request) {
  const path = request.path.split('?')[0]
  const what = path.includes('/release-pipelines/') ? 'pipeline' : path.includes('/phases/') ? 'phase' : 'release'
  return `${request.method} ${what}`
}

test('previewRequest(operation, ...args) shows the first request each call sends, exactly', async (t) => {
  const server = await fake(t)
  const options = { apiKey: TOKEN, baseUrl: server.url, maxRetries: 0 }
  const phaseId = sampleRelease().phases[1]._id
  const calls = [
    ['getRelease', 'web', 'checkout'],
    ['patchRelease', 'web', 'checkout', [{ op: 'replace', path: '/phases/0/complete', value: true }]],
    ['completePhase', 'web', 'checkout', 1],
    ['reopenPhase', 'web', 'checkout', 1],
    ['completePhase', 'web', 'checkout', { name: 'Production' }],
    ['startPhase', 'web', 'checkout', { id: phaseId }],
    ['updatePhaseStatus', 'web', 'checkout', phaseId, { status: 'active' }],
    ['createRelease', 'web', 'other', { releasePipelineKey: 'standard-rollout' }],
    ['deleteRelease', 'web', 'other'],
    ['getReleaseProgressionSummary', 'web', 'standard-rollout'],
  ]
  for (const [operation, ...args] of calls) {
    const preview = ld.previewRequest(operation, ...args, options)
    server.clearRequests()
    await ld[operation](...args, options)
    const [sent] = server.requests
    const where = `${operation}(${JSON.stringify(args)})`
    assert.equal(preview.method, sent.method, where)
    assert.equal(preview.url, `${server.url}${sent.path}`, where)
    assert.equal(preview.body ?? '', sent.body, where)
    assert.equal(preview.headers.Authorization, `****${TOKEN.slice(-4)}`, where)
    for (const [name, value] of Object.entries(preview.headers)) {
      if (name !== 'Authorization') assert.equal(sent.headers[name.toLowerCase()], value, `${where}: ${name}`)
    }
  }
  // The override shows as the POST it sends; a bulk run has no request of its own.
  const overridden = ld.previewRequest('patchRelease', 'web', 'checkout', ld.phasePatch(0, true), { ...options, methodOverride: true })
  assert.equal(overridden.method, 'POST')
  assert.equal(overridden.headers['X-HTTP-Method-Override'], 'PATCH')
  // A phase change reads the release first, whatever the options; so does its dry run.
  for (const extra of [{ methodOverride: true }, { dryRun: true }]) {
    const first = ld.previewRequest('completePhase', 'web', 'checkout', 0, { ...options, ...extra })
    assert.equal(first.method, 'GET')
    assert.equal(first.url, `${server.url}/api/v2/flags/web/checkout/release`)
  }
  for (const [call, message] of [
    [() => ld.previewRequest('completePhases', [], options), /^completePhases sends one call per item/],
    [() => ld.previewRequest('DELETE', 'web', 'f', options), /^operation must be 'GET', 'PATCH' or the name of an operation \(completePhase, /],
    [() => ld.previewRequest('deleteRelease', 'web', '', options), /^flagKey must be a non-empty string/],
    [() => ld.previewRequest('completePhase', 'web', 'f', -1, options), /^phase must be an integer/],
    [() => ld.previewRequest('getRelease', 'web', 'f', { signal: 'no' }), /^options\.signal must be an AbortSignal/],
  ]) {
    assert.throws(call, (e) => e.code === 'ERR_LD_INVALID_ARGUMENT' && message.test(e.message))
  }
})
