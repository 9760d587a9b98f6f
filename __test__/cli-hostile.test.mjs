// The CLI against a server that answers hostile JSON: every text it draws or quotes
// (names, keys, ids, status words, environments, emails, versions, error codes and
// messages) carries terminal escape sequences, bidirectional controls and the access
// token, whole or in pieces. Nothing of these may reach stdout or stderr raw: control
// characters are shown escaped (`\u{1b}`) and the token is masked, for every command.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { ENV_VARS, TOKEN, findSecret } from './helpers.mjs'

const BIN = fileURLToPath(new URL('../bin/ld-release.js', import.meta.url))

/** What a terminal must never get raw: C0 (but the newline that ends our lines), DEL, C1, separators, bidi controls. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

/** Escape sequences that set the window title, clear the screen, move the cursor, colour; C1 CSI; bidi controls; DEL; CR. */
const ESCAPES = '\x1b]0;pwned\x07\x1b[2J\x1b[1A\x9b31m\x85\u202e\u2066\u200f\u061c\x7f\r\n\t'

/** Pieces of the token a server could echo: whole, a 9-character piece, an 8-character one. */
const PIECES = [TOKEN, TOKEN.slice(4, 13), TOKEN.slice(-8)]

let counter = 0
/** A hostile text for field `name`: escapes, the field's name (to find it in the output), a token piece. */
const evil = (name) => `${ESCAPES}F-${name}:${PIECES[counter++ % PIECES.length]}`
/** A hostile key or id: the library refuses control characters in keys, so bidi controls and the token only. */
const evilKey = (name, piece = PIECES[counter++ % PIECES.length]) => `\u202e\u2066F-${name}:${piece}`

function hostileRelease() {
  return {
    name: evil('name'),
    releasePipelineKey: evilKey('pipelineKey'),
    releasePipelineDescription: evil('description'),
    _version: evil('version'),
    phases: [
      {
        _id: evilKey('id0', TOKEN),
        _name: evil('phase0'),
        complete: true,
        _completionDate: 1764309600000,
        _completedBy: { member: { email: evil('email') } },
        _audiences: [{ environment: { key: evil('env') } }],
      },
      { _id: evilKey('id1', TOKEN), _name: evil('phase1'), complete: false, status: evil('status1'), _audiences: [{ name: evil('audience') }] },
      { _id: evilKey('id2', TOKEN), _name: evil('phase2'), complete: false, status: evil('status2'), _completedBy: { token: { name: evil('tokenName') } } },
    ],
  }
}

function hostilePipeline(isLegacy = true) {
  return {
    key: evilKey('pkey'),
    name: evil('pname'),
    description: evil('pdescription'),
    _isLegacy: isLegacy,
    isProjectDefault: true,
    phases: [
      { id: 'ph0', name: evil('pphase0') },
      { id: 'ph1', name: evil('pphase1') },
    ],
  }
}

/** An environment release (ended, unless `status` says otherwise): every text hostile. */
function hostileEnvironmentRelease(status = 'completed') {
  const at = 1764309600000
  return {
    id: evilKey('rid'),
    kind: 'guarded',
    status,
    statusReason: evil('statusReason'),
    flagKey: evilKey('eflag'),
    environmentKey: 'production',
    randomizationUnit: evil('unit'),
    comment: evil('comment'),
    createdAt: at,
    startedAt: at,
    ...(status === 'completed' ? { endedAt: at + 60_000 } : {}),
    currentPhaseIndex: 0,
    fromVariationId: 'v0',
    toVariationId: 'v1',
    phases: [
      {
        id: evilKey('ephase'),
        status: status === 'completed' ? 'completed' : 'in_progress',
        description: evil('ephaseDescription'),
        ruleId: evilKey('rule'),
        currentStepIndex: 0,
        steps: [{ allocation: 10000, durationMillis: 600_000, startedAt: at, status: evil('stepStatus') }],
      },
      { id: evilKey('ephase1'), status: 'pending', ruleId: evilKey('rule1'), steps: [{ allocation: 100000, durationMillis: 600_000 }] },
    ],
    metrics: [{ key: evil('metricKey'), name: evil('metricName'), status: evil('metricStatus') }],
  }
}

/** A flag with hostile variation names and rules (rollout reads it to name variations and audiences). */
function hostileFlag() {
  return {
    key: evilKey('fkey'),
    name: evil('fname'),
    variations: [
      { _id: 'v0', value: evil('value0'), name: evil('variation0') },
      { _id: 'v1', value: true, name: evil('variation1') },
    ],
    environments: {
      production: {
        on: true,
        fallthrough: { variation: 0 },
        rules: [{ _id: evilKey('rule1'), clauses: [{ attribute: evil('attribute'), op: evil('op'), values: [evil('clauseValue'), 3] }] }],
      },
    },
  }
}

/** A release policy: every text hostile. */
function hostilePolicy() {
  return {
    key: evilKey('policyKey'),
    name: evil('policyName'),
    rank: 1,
    scope: { environmentKeys: [evil('scopeEnv')], flagTagKeys: [evil('tag')] },
    releaseMethod: evil('method'),
    guardedReleaseConfig: { rolloutContextKindKey: evil('kind'), stages: [{ allocation: 10000, durationMillis: 600_000 }] },
  }
}

/** An error body: LaunchDarkly's `{ code, message }`, both hostile. */
const hostileError = () => ({ code: evil('apiCode'), message: evil('apiMessage') })

/**
 * A next link to another origin, which lists refuse, quoting its origin: a host holding a
 * piece of the token (lowercase, as a URL's host is read), a path and query of escapes.
 */
const HOSTILE_NEXT = { next: { href: `http://x${TOKEN.slice(4, 17)}.evil.example/${ESCAPES}?q=${ESCAPES}${TOKEN}` } }

/**
 * A server on 127.0.0.1 answering every call with hostile JSON; with `fail`, every
 * write (and, with `fail === 'all'`, every read) is answered 400 with a hostile error;
 * with `links`, each list page has a next link to another origin (`HOSTILE_NEXT`).
 */
async function hostileServer(t, { fail = false, newPipeline = false, links = false } = {}) {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const path = new URL(req.url, 'http://x').pathname
      const send = (status, body) => {
        if (links && Array.isArray(body?.items)) body = { ...body, totalCount: body.items.length + 1, _links: HOSTILE_NEXT }
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      if (fail === 'all' || (fail && req.method !== 'GET')) return send(400, hostileError())
      if (/\/environments\/[^/]+\/releases$/.test(path)) {
        if (req.method === 'POST') return send(201, hostileEnvironmentRelease())
        return send(200, { items: [hostileEnvironmentRelease(), hostileEnvironmentRelease('in_progress')], totalCount: 2 })
      }
      if (/\/environments\/[^/]+\/releases\/[^/]+(\/stop)?$/.test(path)) return send(200, hostileEnvironmentRelease())
      if (/\/release-policies$/.test(path)) return send(200, { items: [hostilePolicy()], totalCount: 1 })
      if (/^\/api\/v2\/flags\/[^/]+\/[^/]+$/.test(path)) return send(200, hostileFlag())
      if (/\/release-pipelines\/[^/]+\/releases$/.test(path)) {
        // A page of progressions carries the counts of the whole list too (the progression
        // summary reads them): per phase, its id, its name and how many are there.
        const items = ['a', 'b'].map((k) => ({ flagKey: `${evilKey('flag')}-${k}`, activePhaseId: 'ph0', name: evil('progression') }))
        // Listed at another phase, or with another status: advance skips them, quoting both.
        items.push({ flagKey: `${evilKey('flag')}-c`, activePhaseId: evil('listedAt') }, { flagKey: `${evilKey('flag')}-d`, activePhaseId: 'ph0', status: evil('listedStatus') })
        const phases = [
          { _id: 'ph0', name: evil('sphase0'), releaseCount: 2 },
          { _id: evilKey('sid'), name: evil('sphase9'), releaseCount: 1 },
        ]
        return send(200, { items, totalCount: items.length, activeCount: 3, completedCount: 1, phases })
      }
      if (/\/release-pipelines\/[^/]+$/.test(path)) return send(200, hostilePipeline(!newPipeline))
      if (/\/release-pipelines$/.test(path)) return send(200, { items: [hostilePipeline(true), hostilePipeline(false)], totalCount: 2 })
      return send(200, hostileRelease())
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  return `http://127.0.0.1:${server.address().port}`
}

/** Runs the binary against `url` with the token in the environment; resolves to { code, stdout, stderr }. */
function cli(url, args, extraEnv = {}) {
  const env = { ...process.env }
  for (const name of [...ENV_VARS, 'FORCE_COLOR', 'NO_COLOR', 'TERM']) delete env[name]
  Object.assign(env, { LD_ACCESS_TOKEN: TOKEN, LD_BASE_URI: url }, extraEnv)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--retries', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Our own colours, which FORCE_COLOR turns on: the only escape sequences allowed. */
const OUR_STYLES = /\x1b\[(?:1|2|22|32|33|36|39)m/g

/** Asserts that `text` (stdout or stderr of `what`) holds no raw control character and no token piece. */
function assertInert(text, what) {
  const plain = text.replace(OUR_STYLES, '')
  const raw = RAW.exec(plain)
  assert.equal(raw, null, `${what}: a raw U+${raw?.[0].codePointAt(0).toString(16).padStart(4, '0')} at ${raw?.index}: ${JSON.stringify(plain.slice(Math.max(0, (raw?.index ?? 0) - 40), (raw?.index ?? 0) + 40))}`)
  const piece = findSecret(text)
  assert.equal(piece, null, `${what}: a piece of the token (${piece}) in ${JSON.stringify(text)}`)
}

function tempFile(t, name, content) {
  const dir = mkdtempSync(join(tmpdir(), 'ld-release-cli-hostile-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, name)
  writeFileSync(file, content)
  return file
}

/** Runs `args`, asserts both streams are inert, and returns the run. */
async function inertRun(url, args, env) {
  const run = await cli(url, args, env)
  const what = `ld-release ${args.join(' ')}${env ? ` (${JSON.stringify(env)})` : ''}`
  assert.ok(run.stdout.length + run.stderr.length > 0, `${what} printed something`)
  assertInert(run.stdout, `stdout of ${what}`)
  assertInert(run.stderr, `stderr of ${what}`)
  return run
}

/** Asserts that each of `fields` (their markers `F-<field>`) was printed, escaped. */
function assertDrawn(text, fields, what) {
  for (const field of fields) assert.ok(text.includes(`F-${field}:`), `${what} shows ${field}: ${text}`)
  assert.ok(text.includes('\\u{1b}]0;pwned\\u{7}\\u{1b}[2J') || text.includes('\\u001b]0;pwned\\u0007\\u001b[2J'), `${what} shows the escape sequence escaped: ${text}`)
}

const PATCH = JSON.stringify([{ op: 'replace', path: '/name', value: 'x' }])

const RELEASE_FIELDS = ['name', 'version', 'phase0', 'phase1', 'phase2', 'email', 'env', 'audience', 'status1', 'status2']

describe('the CLI prints no raw control character and no piece of the token, whatever the server sends', { concurrency: true }, () => {
  test('drawn releases: status, complete, reopen, start, patch, create (plain, coloured, --json, --verbose)', async (t) => {
    const url = await hostileServer(t)
    for (const args of [
      ['status', 'web', 'checkout'],
      ['complete', 'web', 'checkout', '0'],
      ['reopen', 'web', 'checkout', '0'],
      ['start', 'web', 'checkout', '1'],
      ['patch', 'web', 'checkout', '--data', PATCH],
      ['create', 'web', 'checkout', '--pipeline', 'standard'],
    ]) {
      const run = await inertRun(url, args)
      assert.equal(run.code, 0, run.stderr)
      assertDrawn(run.stdout, RELEASE_FIELDS, args[0])
      const colored = await inertRun(url, args, { FORCE_COLOR: '1' })
      assert.match(colored.stdout, OUR_STYLES, 'FORCE_COLOR draws in colour')
      const json = await inertRun(url, [...args, '--json'])
      assert.equal(JSON.parse(json.stdout).phases.length, 3, '--json is still JSON')
      assert.match(json.stdout, /\\u009b31m/, 'a C1 control is a JSON escape in --json')
    }
    const verbose = await inertRun(url, ['start', 'web', 'checkout', '1', '--verbose'])
    assert.match(verbose.stderr, /PUT .*phases.* -> 200/)
  })

  test('previews and notes: --dry-run of complete, reopen, start, and an unknown phase name', async (t) => {
    for (const newPipeline of [false, true]) {
      const url = await hostileServer(t, { newPipeline })
      const complete = await inertRun(url, ['complete', 'web', 'checkout', 'id:\u202e\u2066F-id1:' + PIECES[0], '--dry-run'])
      assert.equal(complete.code, 0, complete.stderr)
      assert.match(complete.stderr, /F-phase1:/, 'the note names the phase')
      const byIndex = await inertRun(url, ['complete', 'web', 'checkout', '1', '--dry-run'])
      assert.equal(byIndex.code, 0, byIndex.stderr)
      if (newPipeline) assert.match(byIndex.stdout, /^PUT .*phases\//, 'the PUT that starts phase 2, by its id')
      else assert.match(byIndex.stdout, /^PATCH /)
      await inertRun(url, ['start', 'web', 'checkout', '2', '--dry-run'])
      await inertRun(url, ['start', 'web', 'checkout', '2', '--dry-run', '--json'])
      const unknown = await inertRun(url, ['complete', 'web', 'checkout', 'NoSuchPhase', '--dry-run'])
      assert.equal(unknown.code, 2)
      assertDrawn(unknown.stderr, ['phase0', 'phase1', 'phase2'], 'the list of phases')
    }
  })

  test('errors: every error line quotes the server inert', async (t) => {
    const url = await hostileServer(t, { fail: 'all' })
    for (const args of [
      ['status', 'web', 'checkout'],
      ['complete', 'web', 'checkout', '0'],
      ['reopen', 'web', 'checkout', 'Beta'],
      ['start', 'web', 'checkout', '1'],
      ['patch', 'web', 'checkout', '--data', PATCH],
      ['create', 'web', 'checkout', '--pipeline', 'standard'],
      ['delete', 'web', 'checkout'],
      ['phase-status', 'web', 'checkout', 'ph1', '--status', 'active'],
      ['pipelines', 'web'],
      ['pipeline', 'web', 'standard'],
      ['advance', 'web', 'standard', '--from', '0'],
      ['status', 'web', 'checkout', '--verbose'],
    ]) {
      const run = await inertRun(url, args)
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`)
      assertDrawn(run.stderr, ['apiMessage'], args.join(' '))
    }
  })

  test('complete-many: failures, successes, previews and --json', async (t) => {
    const items = JSON.stringify([
      { projectKey: 'web', flagKey: 'a', phase: 0 },
      { projectKey: 'web', flagKey: 'b', phase: 'id:ph1' },
      { projectKey: 'web', flagKey: 'c', phase: 'Beta' },
    ])
    const file = tempFile(t, 'items.json', items)
    const failing = await hostileServer(t, { fail: true })
    const failed = await inertRun(failing, ['complete-many', '--file', file])
    assert.equal(failed.code, 1)
    assertDrawn(failed.stdout, ['apiMessage', 'phase0'], 'complete-many failures')
    const failedJson = await inertRun(failing, ['complete-many', '--file', file, '--json'])
    assert.equal(JSON.parse(failedJson.stdout).length, 3)
    const answering = await hostileServer(t)
    await inertRun(answering, ['complete-many', '--file', file])
    await inertRun(answering, ['complete-many', '--file', file, '--dry-run'])
    await inertRun(answering, ['complete-many', '--file', file, '--dry-run', '--json'])
    await inertRun(answering, ['complete-many', '--file', file, '--verbose'])
    // The library's dry runs: reads refused (each item would fail, quoting the server),
    // and on a new pipeline the PUT that starts the next phase, by the server's phase id.
    const refusing = await hostileServer(t, { fail: 'all' })
    const wouldFail = await inertRun(refusing, ['complete-many', '--file', file, '--dry-run'])
    assert.equal(wouldFail.code, 1)
    assertDrawn(wouldFail.stderr, ['apiMessage'], 'complete-many --dry-run failures')
    assert.match(wouldFail.stderr, /would send no request; 3 items would fail; nothing was sent/)
    await inertRun(refusing, ['complete-many', '--file', file, '--dry-run', '--json'])
    const newPipeline = await hostileServer(t, { newPipeline: true })
    const second = tempFile(t, 'second.json', JSON.stringify([...JSON.parse(items), { projectKey: 'web', flagKey: 'd', phase: 1 }]))
    const starts = await inertRun(newPipeline, ['complete-many', '--file', second, '--dry-run'])
    assert.match(starts.stderr, /already complete, would send nothing/)
    assert.match(starts.stdout, /^PUT .*\/release\/phases\/%E2%80%AE%E2%81%A6F-id2%3A\*\*\*\*/m, 'the PUT names the next phase by its id, encoded and masked')
    await inertRun(newPipeline, ['complete-many', '--file', second, '--dry-run', '--json'])
  })

  test('pipelines, pipeline and advance', async (t) => {
    const url = await hostileServer(t)
    const table = await inertRun(url, ['pipelines', 'web'])
    assert.equal(table.code, 0, table.stderr)
    assertDrawn(table.stdout, ['pname', 'pkey', 'pphase0', 'pphase1'], 'pipelines')
    await inertRun(url, ['pipelines', 'web', '--json'])
    await inertRun(url, ['pipelines', 'web', '--query', 'std'])
    const chart = await inertRun(url, ['pipeline', 'web', 'standard'])
    assert.equal(chart.code, 0, chart.stderr)
    assertDrawn(chart.stdout, ['pname', 'pphase0'], 'pipeline')
    await inertRun(url, ['pipeline', 'web', 'standard', '--json'])
    const advance = await inertRun(url, ['advance', 'web', 'standard', '--from', '0'])
    assert.match(advance.stdout, /F-flag:/)
    assertDrawn(advance.stdout, ['listedAt', 'listedStatus'], 'advance skips')
    assert.match(advance.stderr, /2 skipped \(not at that phase\)/)
    await inertRun(url, ['advance', 'web', 'standard', '--from', '0', '--dry-run'])
    await inertRun(url, ['advance', 'web', 'standard', '--from', '0', '--json'])
    await inertRun(url, ['advance', 'web', 'standard', '--from', '0', '--verbose'])
    const failing = await hostileServer(t, { fail: true })
    const failed = await inertRun(failing, ['advance', 'web', 'standard', '--from', '0'])
    assert.equal(failed.code, 1)
    // Lists follow next links on the base URL's origin only: one elsewhere ends the list
    // with an error that quotes where it pointed, inert.
    const linking = await hostileServer(t, { links: true })
    for (const args of [
      ['pipelines', 'web'],
      ['pipelines', 'web', '--json'],
      ['advance', 'web', 'standard', '--from', '0'],
      ['advance', 'web', 'standard', '--from', '0', '--dry-run'],
    ]) {
      const run = await inertRun(linking, args)
      assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, /next link of its page .* points to another origin \(http:\/\/x\*\*\*\*/, args.join(' '))
    }
  })
})

test('rollout and policies: environment releases, flags and policies drawn, listed, watched, stopped, refused', async (t) => {
  const where = ['web', 'checkout', 'production']
  const url = await hostileServer(t)
  const drawn = []
  for (const args of [
    ['rollout', 'status', ...where],
    ['rollout', 'status', ...where, '--json'],
    ['rollout', 'list', ...where],
    ['rollout', 'list', ...where, '--json'],
    ['rollout', 'watch', ...where, 'r1', '--interval', '1s'],
    ['rollout', 'watch', ...where, 'r1', '--interval', '1s', '--json'],
    ['rollout', 'stop', ...where, '--roll-back', '--yes'],
    ['rollout', 'stop', ...where, '--roll-back', '--yes', '--dry-run'],
    ['rollout', 'start', ...where, '--to', 'v1', '--steps', '10%:1h'],
    ['rollout', 'start', ...where, '--to', 'v1', '--steps', '10%:1h', '--dry-run'],
    ['policies', 'web'],
    ['policies', 'web', '--json'],
  ]) {
    const run = await inertRun(url, args)
    drawn.push(run.stdout + run.stderr)
  }
  assertDrawn(drawn[0], ['statusReason'], 'rollout status')
  assertDrawn(drawn[2], [], 'rollout list')
  assertDrawn(drawn[10], ['policyName'], 'policies')
  const refusing = await hostileServer(t, { fail: 'all' })
  for (const args of [
    ['rollout', 'status', ...where],
    ['rollout', 'list', ...where],
    ['rollout', 'watch', ...where, 'r1'],
    ['rollout', 'stop', ...where, '--roll-back', '--yes'],
    ['rollout', 'start', ...where, '--to', 'v1', '--steps', '10%:1h'],
    ['policies', 'web'],
  ]) {
    const run = await inertRun(refusing, args)
    assert.notEqual(run.code, 0, `${args.join(' ')}: ${run.stderr}`)
    assertDrawn(run.stderr, ['apiMessage'], args.join(' '))
  }
})

test('an unknown phase name on a release of 20,000 phases gives a short message, from the library and the CLI', async (t) => {
  const { ld, sampleRelease } = await import('./helpers.mjs')
  const release = { ...sampleRelease(), phases: Array.from({ length: 20_000 }, (_, i) => ({ ...sampleRelease().phases[0], _id: `id-${i}`, _name: `Phase ${i}`, complete: false })) }
  const body = JSON.stringify(release)
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(body)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  const url = `http://127.0.0.1:${server.address().port}`
  const client = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: url, maxRetries: 0 })
  const error = await client.startPhase('web', 'checkout', { name: 'Nope' }).then(() => null, (e) => e)
  assert.equal(error?.code, 'ERR_LD_INVALID_ARGUMENT')
  assert.ok(error.message.length < 2000, `${error.message.length} characters`)
  assert.match(error.message, /19: "Phase 19", and 19980 more$/)
  await client.close()
  for (const args of [['complete', 'web', 'checkout', 'Nope', '--dry-run'], ['start', 'web', 'checkout', 'Nope']]) {
    const run = await cli(url, args)
    assert.equal(run.code, 2, run.stderr)
    assert.ok(run.stderr.length < 2500, `${args.join(' ')}: ${run.stderr.length} characters`)
    assert.match(run.stderr, /19: "Phase 19", and 19980 more/)
  }
})

test('advancePipeline: a listed flag key no request can be made for fails alone, in the dry run as in the real run', async (t) => {
  const { ld, sampleRelease } = await import('./helpers.mjs')
  const writes = []
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const path = new URL(req.url, 'http://x').pathname
      let body
      if (path.endsWith('/releases')) body = { items: ['good', 'bad\u0007key', 'also-good'].map((flagKey) => ({ flagKey, activePhaseId: 'ph0' })), totalCount: 3 }
      else if (path.includes('/release-pipelines/')) body = { key: 'standard', name: 'Standard', _isLegacy: true, phases: [{ id: 'ph0', name: 'A' }, { id: 'ph1', name: 'B' }] }
      else {
        writes.push(`${req.method} ${path}`)
        body = sampleRelease()
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(resolve))
  })
  const url = `http://127.0.0.1:${server.address().port}`
  const client = new ld.ReleaseClient({ apiKey: TOKEN, baseUrl: url, maxRetries: 0 })
  t.after(() => client.close())
  const shape = (results) => results.map((r) => [r.flagKey, r.ok, r.ok ? null : r.error.code])
  const dry = await client.advancePipeline('web', 'standard', 0, { dryRun: true })
  assert.equal(writes.length, 0, 'a dry run writes nothing')
  const real = await client.advancePipeline('web', 'standard', 0)
  assert.deepEqual(shape(dry), shape(real), 'the dry run and the real run agree')
  assert.deepEqual(shape(real), [
    ['good', true, null],
    ['bad\u0007key', false, 'ERR_LD_INVALID_ARGUMENT'],
    ['also-good', true, null],
  ])
  assert.equal(dry[0].request.method, 'PATCH')
  assert.deepEqual(writes, ['PATCH /api/v2/flags/web/good/release', 'PATCH /api/v2/flags/web/also-good/release'])
  const run = await cli(url, ['advance', 'web', 'standard', '--from', '0', '--dry-run'])
  assert.equal(run.code, 1, run.stderr)
  assert.match(run.stderr, /✗ web\/bad\\u\{7\}key: .* \(code ERR_LD_INVALID_ARGUMENT\)/)
  assert.match(run.stderr, /2 flags at phase 0 of standard would move: good, also-good \(2 PATCH requests; nothing was written\); 1 flag would fail/)
  const json = await cli(url, ['advance', 'web', 'standard', '--from', '0', '--dry-run', '--json'])
  assert.deepEqual(JSON.parse(json.stdout).map((e) => [e.flagKey, e.error?.code ?? e.request.method]), [['good', 'PATCH'], ['bad\u0007key', 'ERR_LD_INVALID_ARGUMENT'], ['also-good', 'PATCH']])
})
