// advancePipeline and `ld-release advance` against a server that does not apply the
// progressions filter: it lists flags at other phases, finished ones, and the same flag
// on two pages. Only flags whose release is at `from` are written, each once; the others
// come back `skipped: true` (with `reason`, `activePhaseId` and an ERR_LD_CONFLICT
// `error`), and the CLI prints them as skipped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { ENV_VARS, assertLdError, client, fake } from './helpers.mjs'

const { sampleNewPipelineRelease } = createRequire(import.meta.url)('../testing/index.js')

const NEW = 'progressive-rollout'
const NEW_IDS = sampleNewPipelineRelease().phases.map((p) => p._id)
const PROGRESSIONS = `/api/v2/projects/web/release-pipelines/${NEW}/releases`
const phasePath = (flagKey, id) => `/api/v2/projects/web/flags/${flagKey}/release/phases/${id}`
const BIN = fileURLToPath(new URL('../bin/ld-release.js', import.meta.url))

/** A release of the new sample pipeline whose phase `at` is active, every phase before it completed. */
function newAt(at) {
  const release = sampleNewPipelineRelease()
  release.phases.forEach((phase, i) => {
    if (i < at) Object.assign(phase, { complete: true, status: 'completed', started: true, _completionDate: 1766090000000 + i })
    if (i === at) Object.assign(phase, { status: 'active', started: true })
  })
  return release
}

const item = (flagKey, at) => (at === null ? { flagKey, _createdAt: 1, _completedAt: 2 } : { flagKey, activePhaseId: NEW_IDS[at], _createdAt: 1 })

/**
 * The fake holding releases of the new pipeline: `at-beta` and `twice` at Beta (1),
 * `at-qa` at QA (0), `moved` at GA (2, though listed at Beta), and a listing of two pages
 * that ignores the filter: every flag, whatever its phase, `twice` on both pages.
 */
async function unfiltered(t) {
  const spec = { 'at-qa': newAt(0), 'at-beta': newAt(1), twice: newAt(1), moved: newAt(2), finished: newAt(2) }
  const server = await fake(t, { releases: Object.entries(spec).map(([flagKey, release]) => ({ projectKey: 'web', flagKey, release })) })
  const list = (pages) => {
    const totalCount = pages.flat().length
    for (const items of pages) server.injectFault({ match: { method: 'GET', path: PROGRESSIONS }, status: 200, body: { items, totalCount } })
  }
  list([
    [item('at-qa', 0), item('twice', 1), item('at-beta', 1)],
    [item('twice', 1), item('finished', null), item('moved', 1)],
  ])
  return { server, spec, list }
}

const writes = (server) => server.requests.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path}`)

test('advancePipeline writes only the flags whose release is at the phase, each once; the others are skipped', async (t) => {
  const { server, spec, list } = await unfiltered(t)
  const results = await client(server).advancePipeline('web', NEW, { name: 'Beta' }, { concurrency: 1 })
  assert.deepEqual(
    results.map((r) => [r.flagKey, r.ok, r.skipped ?? false, r.reason ?? null, r.activePhaseId ?? null]),
    [
      ['at-qa', false, true, 'listed-elsewhere', NEW_IDS[0]],
      ['twice', true, false, null, null],
      ['at-beta', true, false, null, null],
      ['finished', false, true, 'listed-elsewhere', null],
      ['moved', false, true, 'moved', NEW_IDS[2]],
    ],
  )
  // One start per flag at Beta; QA's flag does not get GA started (Beta skipped over).
  assert.deepEqual(writes(server).sort(), ['at-beta', 'twice'].map((f) => `PUT ${phasePath(f, NEW_IDS[2])}`))
  assert.deepEqual(server.getRelease('web', 'at-qa'), spec['at-qa'])
  assert.deepEqual(server.getRelease('web', 'moved'), spec.moved)
  for (const r of results.filter((x) => x.skipped)) {
    assertLdError(r.error, { code: 'ERR_LD_CONFLICT', name: 'LaunchDarklyError' })
    assert.equal(r.error.status, undefined)
    assert.match(r.error.message, /it was skipped, nothing was written$/)
  }
  assert.equal(
    results[0].error.message,
    `the progressions listing shows the release of web/at-qa at phase "${NEW_IDS[0]}" ("QA"), not at phase "${NEW_IDS[1]}" ("Beta"): it was skipped, nothing was written`,
  )
  assert.equal(
    results[4].error.message,
    `the release of web/moved, read before its write, shows it at phase "${NEW_IDS[2]}" ("General availability"), not at phase "${NEW_IDS[1]}" ("Beta"): it was skipped, nothing was written`,
  )

  // A dry run reports the same skips and writes nothing.
  server.clearRequests()
  list([[item('at-qa', 0), item('moved', 1), item('moved', 1), item('finished', null)]])
  const planned = await client(server).advancePipeline('web', NEW, 1, { dryRun: true })
  assert.deepEqual(
    planned.map((r) => [r.flagKey, r.ok, r.skipped ?? false, r.reason ?? null]),
    [
      ['at-qa', false, true, 'listed-elsewhere'],
      ['moved', false, true, 'moved'],
      ['finished', false, true, 'listed-elsewhere'],
    ],
  )
  assert.deepEqual(writes(server), [])
})

/** Runs the binary against `server`; resolves to { code, stdout, stderr }. */
function cli(server, args) {
  const env = { ...process.env }
  for (const name of [...ENV_VARS, 'FORCE_COLOR', 'NO_COLOR']) delete env[name]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--access-token', server.apiKey, '--base-uri', server.url], { env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end()
  })
}

test('ld-release advance prints skipped flags as skipped and exits 0 when nothing failed', async (t) => {
  const { server, list } = await unfiltered(t)
  const r = await cli(server, ['advance', 'web', NEW, '--from', 'Beta', '--concurrency', '1'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trimEnd().split('\n'), [
    `↷ web/at-qa skipped (listed-elsewhere): the progressions listing shows the release of web/at-qa at phase "${NEW_IDS[0]}" ("QA"), not at phase "${NEW_IDS[1]}" ("Beta"): it was skipped, nothing was written`,
    '✓ web/twice',
    '✓ web/at-beta',
    `↷ web/finished skipped (listed-elsewhere): the progressions listing shows the release of web/finished with no active phase (finished), not at phase "${NEW_IDS[1]}" ("Beta"): it was skipped, nothing was written`,
    `↷ web/moved skipped (moved): the release of web/moved, read before its write, shows it at phase "${NEW_IDS[2]}" ("General availability"), not at phase "${NEW_IDS[1]}" ("Beta"): it was skipped, nothing was written`,
  ])
  assert.equal(r.stderr, '5 flags at phase "Beta" of progressive-rollout: 2 advanced, 3 skipped (not at that phase), 0 failed\n')
  assert.equal(writes(server).length, 2)

  // --json: a skipped flag says so, with where its release is.
  list([[item('at-qa', 0), item('at-qa', 0)]])
  const json = await cli(server, ['advance', 'web', NEW, '--from', 'Beta', '--json'])
  assert.equal(json.code, 0, json.stderr)
  const [entry, ...rest] = JSON.parse(json.stdout)
  assert.deepEqual(rest, [])
  assert.deepEqual(
    { ...entry, error: { code: entry.error.code, hasStatus: 'status' in entry.error } },
    { ok: false, skipped: true, flagKey: 'at-qa', reason: 'listed-elsewhere', activePhaseId: NEW_IDS[0], error: { code: 'ERR_LD_CONFLICT', hasStatus: false } },
  )

  // --dry-run: skipped flags on stderr, the count in the summary; nothing written.
  server.clearRequests()
  list([[item('at-qa', 0), item('twice', 2)]])
  const dry = await cli(server, ['advance', 'web', NEW, '--from', 'Beta', '--dry-run'])
  assert.equal(dry.code, 0, dry.stderr)
  assert.equal(dry.stdout, '')
  const lines = dry.stderr.trimEnd().split('\n')
  assert.match(lines[0], /^↷ web\/at-qa skipped \(listed-elsewhere\): /)
  assert.match(lines[1], /^↷ web\/twice skipped \(listed-elsewhere\): /)
  assert.equal(lines[2], 'no flag at phase "Beta" of progressive-rollout would move; 2 listed flags would be skipped (not at that phase)')
  assert.deepEqual(writes(server), [])
})

test('an aborted advance keeps its skipped flags as skipped, and its message counts them apart', async (t) => {
  const { server } = await unfiltered(t)
  // at-beta's start hangs; the abort comes while it is in flight.
  server.injectFault({ match: { method: 'PUT', path: phasePath('at-beta', NEW_IDS[2]) }, delayMs: 1500 })
  const controller = new AbortController()
  const running = client(server).advancePipeline('web', NEW, { name: 'Beta' }, { concurrency: 1, signal: controller.signal })
  for (let i = 0; i < 200 && !server.requests.some((q) => q.method === 'PUT' && q.path.includes('/at-beta/')); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  controller.abort()
  const error = await running.then(
    () => assert.fail('an aborted advance rejects'),
    (e) => e,
  )
  assert.equal(error.name, 'AbortError')
  const outcome = (r) => (r.ok ? 'ok' : r.skipped ? `skipped ${r.reason}` : r.aborted)
  // Listed: at-qa (elsewhere), twice, at-beta, finished (elsewhere), moved (read: at GA).
  assert.deepEqual(
    error.results.map((r) => [r.flagKey, outcome(r)]),
    [
      ['at-qa', 'skipped listed-elsewhere'],
      ['twice', 'ok'],
      ['at-beta', 'unknown'],
      ['finished', 'skipped listed-elsewhere'],
      ['moved', 'not-sent'],
    ],
  )
  assert.match(error.message, /of 5 items, 1 was done, 2 were skipped \(not at the phase\), 1 was in flight .* and 1 was not sent/)
  assert.deepEqual(writes(server), [`PUT ${phasePath('twice', NEW_IDS[2])}`, `PUT ${phasePath('at-beta', NEW_IDS[2])}`])
})
