// A phase start (the phase-status PUT of a new pipeline) that LaunchDarkly applied but
// whose answer was lost (late past timeoutMs, a dropped connection, a 5xx from a proxy)
// resolves with the release: the client reads the release instead of resending the
// start, which LaunchDarkly would refuse as a repeat (400). A start that was not applied
// still fails, with its own error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { client, expectLdError, fake } from './helpers.mjs'

const { sampleNewPipelineRelease } = createRequire(import.meta.url)('../testing/index.js')

const NEW = 'progressive-rollout'
const NEW_IDS = sampleNewPipelineRelease().phases.map((p) => p._id)
const START_BETA = `/api/v2/projects/web/flags/checkout/release/phases/${NEW_IDS[1]}`
const RELEASE = '/api/v2/flags/web/checkout/release'

async function newPipeline(t) {
  return fake(t, { releases: [{ projectKey: 'web', flagKey: 'checkout', release: sampleNewPipelineRelease() }] })
}

const lines = (server) => server.requests.map((q) => `${q.method} ${q.path}`)
const starts = (server) => lines(server).filter((l) => l === `PUT ${START_BETA}`).length
const statuses = (release) => release.phases.map((p) => p.status)

test('completePhase on a new pipeline resolves when its start applied but the answer was lost', async (t) => {
  const server = await newPipeline(t)
  const lost = [
    ['dropped', { drop: 'before-response' }, {}],
    ['a 502', { status: 502 }, {}],
    ['late past timeoutMs', { delayMs: 1500 }, { timeoutMs: 300 }],
  ]
  for (const [what, fault, options] of lost) {
    server.setRelease('web', 'checkout', sampleNewPipelineRelease())
    server.clearRequests()
    server.injectFault({ match: { method: 'PUT', path: START_BETA }, applied: true, ...fault })
    const release = await client(server, { maxRetries: 2, ...options }).completePhase('web', 'checkout', 0)
    assert.deepEqual(statuses(release), ['completed', 'active', 'not-started'], what)
    assert.deepEqual(release, server.getRelease('web', 'checkout'), what)
    assert.equal(starts(server), 1, `${what}: the start is not sent again`)
    assert.equal(lines(server).at(-1), `GET ${RELEASE}`, `${what}: the release is read instead`)
  }
  // advancePipeline's starts are read back the same way.
  server.setRelease('web', 'checkout', sampleNewPipelineRelease())
  server.injectFault({ match: { method: 'PUT', path: START_BETA }, applied: true, drop: 'before-response' })
  const [moved] = await client(server).advancePipeline('web', NEW, 0)
  assert.equal(moved.ok, true)
  assert.deepEqual(statuses(moved.release), ['completed', 'active', 'not-started'])
})

test('a start that was not applied is sent again after a read, and fails with its own error when it never is', async (t) => {
  const server = await newPipeline(t)
  server.injectFault({ match: { method: 'PUT', path: START_BETA }, status: 503 })
  const release = await client(server, { maxRetries: 2 }).completePhase('web', 'checkout', 0)
  assert.deepEqual(statuses(release), ['completed', 'active', 'not-started'])
  assert.deepEqual(lines(server).slice(-3), [`PUT ${START_BETA}`, `GET ${RELEASE}`, `PUT ${START_BETA}`])

  server.setRelease('web', 'checkout', sampleNewPipelineRelease())
  server.clearRequests()
  server.injectFault({ match: { method: 'PUT', path: START_BETA }, status: 503, times: 3 })
  await expectLdError(() => client(server, { maxRetries: 2 }).completePhase('web', 'checkout', 0), { code: 'ERR_LD_SERVER', status: 503, attempts: 3 })
  assert.equal(starts(server), 3)
  assert.deepEqual(server.getRelease('web', 'checkout'), sampleNewPipelineRelease())
})

test('a start whose outcome the release cannot tell fails with ERR_LD_OUTCOME_UNKNOWN', async (t) => {
  const server = await newPipeline(t)
  server.injectFault({ match: { method: 'PUT', path: START_BETA }, drop: 'before-response' })
  // The plan's read passes; the read-back after the dropped start is refused.
  server.injectFault({ match: { method: 'GET', path: RELEASE } })
  server.injectFault({ match: { method: 'GET', path: RELEASE }, status: 403, times: 2 })
  const error = await expectLdError(() => client(server, { maxRetries: 2 }).completePhase('web', 'checkout', 0), { code: 'ERR_LD_OUTCOME_UNKNOWN', attempts: 1 })
  assert.match(error.message, /^The start of phase "[0-9a-f]+" of the release of web\/checkout may or may not have been applied: .*; the release could not be read to check \(.*403.*\)\. Check with getRelease\('web', 'checkout'\) before starting it again$/)
  assert.equal(starts(server), 1)
})

test('the fake: an applied fault handles the request, then loses its answer; a repeated start is refused', async (t) => {
  const server = await newPipeline(t)
  const put = (path) => fetch(`${server.url}${path}`, { method: 'PUT', headers: { authorization: server.apiKey, 'ld-api-version': 'beta', 'content-type': 'application/json' }, body: '{"status":"active"}' })
  server.injectFault({ match: { method: 'PUT', path: START_BETA }, applied: true, status: 502, headers: { 'x-lost': 'yes' } })
  const lost = await put(START_BETA)
  assert.equal(lost.status, 502)
  assert.equal(lost.headers.get('x-lost'), 'yes')
  assert.equal((await lost.json()).message, '502 Bad Gateway')
  assert.deepEqual(statuses(server.getRelease('web', 'checkout')), ['completed', 'active', 'not-started'], 'applied')
  const repeat = await put(START_BETA)
  assert.equal(repeat.status, 400)
  assert.match((await repeat.json()).message, /^Phase must have status not-started or ready-to-start to be started: Beta is already active$/)
  // Only a delay: the answer, as handled, comes late.
  server.setRelease('web', 'checkout', sampleNewPipelineRelease())
  server.injectFault({ match: { method: 'PUT', path: START_BETA }, applied: true, delayMs: 50, headers: { 'x-late': '1' } })
  const late = await put(START_BETA)
  assert.equal(late.status, 200)
  assert.equal(late.headers.get('x-late'), '1')
  assert.deepEqual(statuses(await late.json()), ['completed', 'active', 'not-started'])
})
