// `ld-release rollout …` and `ld-release policies`, run as users run them: the real binary
// as a child process against the fake's environment releases (its clock stood still,
// advanced, or sped up), on pipes and on a pseudo-terminal (util-linux `script`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ENV_VARS, TOKEN, fake, ld } from './helpers.mjs'

const BIN = fileURLToPath(new URL('../bin/ld-release.js', import.meta.url))
const SCRIPT = '/usr/bin/script'
const WHERE = ['web', 'new-checkout', 'production']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

function cleanEnv(extra = {}) {
  const env = { ...process.env }
  for (const name of [...ENV_VARS, 'FORCE_COLOR', 'NO_COLOR', 'LD_PROJECT', 'TERM']) delete env[name]
  return { ...env, ...extra }
}

/**
 * Runs the binary against `server`; resolves to { code, signal, stdout, stderr }.
 * `onStdout(text so far, child)` sees the output as it comes.
 */
function cli(server, args, { env = {}, onStdout } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv({ LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url, ...env }) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
      onStdout?.(stdout, child)
    })
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
    child.stdin.end()
  })
}

/** Runs the binary on a pseudo-terminal (stdin, stdout and stderr TTYs); `input` is typed into it. */
function onTerminal(server, args, { input, env = {} } = {}) {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { env: cleanEnv({ LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url, TERM: 'xterm', ...env }) })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (input && out.includes('[y/N]')) {
        child.stdin.write(input)
        input = undefined
      }
    })
    // A terminal session that hangs fails the test rather than the suite.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

const releasesOf = (server, path = '/api/v2/projects/web/flags/new-checkout/environments/production/releases') => server.requests.filter((r) => r.path.split('?')[0] === path)
const posts = (server) => server.requests.filter((r) => r.method === 'POST')

/** Starts a guarded release on the fake through the library: one phase, steps of 10 minutes. */
async function startGuarded(server, { autoRollback = true, steps = 3, flag = 'new-checkout', environment = 'production', clauses = [] } = {}) {
  const client = new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url })
  const f = await client.getFlag('web', flag)
  return client.startEnvironmentRelease('web', flag, environment, {
    originalVariationId: f.variations[1]._id,
    targetVariationId: f.variations[0]._id,
    randomizationUnit: 'user',
    advancementMode: 'automatic',
    metrics: [{ metricKey: 'checkout-errors', autoRollback }],
    phases: [{ clauses, steps: Array.from({ length: steps }, (_, i) => ({ allocation: (i + 1) * 10000, durationMillis: 600000 })) }],
  })
}

test('getFlag reads the flag with one GET; previewRequest shows it', async (t) => {
  const server = await fake(t)
  const client = new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url })
  const flag = await client.getFlag('web', 'checkout-layout')
  assert.deepEqual(flag.variations.map((v) => v.name), ['Classic', 'Compact', 'Wide'])
  assert.equal(flag.environments.staging.on, true)
  assert.equal(flag.environments.production.on, false)
  assert.deepEqual(server.requests.map((r) => `${r.method} ${r.path}`), ['GET /api/v2/flags/web/checkout-layout'])
  const preview = ld.previewRequest('getFlag', 'web', 'a b', { apiKey: TOKEN })
  assert.equal(preview.url, 'https://app.launchdarkly.com/api/v2/flags/web/a%20b')
  assert.equal(preview.headers['LD-API-Version'], 'beta')
  await assert.rejects(client.getFlag('web', ''), { code: 'ERR_LD_INVALID_ARGUMENT', message: /flagKey/ })
  await assert.rejects(client.getFlag('web', 'nope'), { code: 'ERR_LD_NOT_FOUND' })
})

test('start --dry-run prints the library preview of the start after reading the flag, and sends no start', async (t) => {
  const server = await fake(t)
  const r = await cli(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:10m,10%:30m,50%:1h', '--metric', 'checkout-errors', '--phase', 'country in NZ,AU and email not endsWith @corp.example', '--phase', 'everyone', '--comment', 'deploy 7', '--dry-run', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const preview = JSON.parse(r.stdout)
  assert.equal(preview.method, 'POST')
  assert.match(preview.url, /\/api\/v2\/projects\/web\/flags\/new-checkout\/environments\/production\/releases$/)
  assert.equal(preview.headers.Authorization, `****${server.apiKey.slice(-4)}`)
  const body = JSON.parse(preview.body)
  const flag = server.getFlag('web', 'new-checkout')
  assert.equal(body.targetVariationId, flag.variations[0]._id)
  // --from left out: what production serves now (Disabled, by default and by its rule).
  assert.equal(body.originalVariationId, flag.variations[1]._id)
  assert.deepEqual(body.phases[0].steps, [
    { allocation: 1000, durationMillis: 600000 },
    { allocation: 10000, durationMillis: 1800000 },
    { allocation: 50000, durationMillis: 3600000 },
  ])
  assert.deepEqual(body.phases[0].clauses.slice(1), [
    { attribute: 'country', contextKind: 'user', op: 'in', values: ['NZ', 'AU'] },
    { attribute: 'email', contextKind: 'user', negate: true, op: 'endsWith', values: ['@corp.example'] },
  ])
  assert.deepEqual(body.phases[1].clauses, [{ attribute: 'kind', contextKind: 'user', op: 'in', values: ['user'] }], 'the library added the kind clause')
  assert.deepEqual(body.metrics, [{ autoRollback: true, metricKey: 'checkout-errors' }])
  assert.equal(body.comment, 'deploy 7')
  assert.deepEqual(server.requests.map((r) => `${r.method} ${r.path}`), ['GET /api/v2/flags/web/new-checkout'])
  assert.ok(!r.stdout.includes(server.apiKey) && !r.stderr.includes(server.apiKey))
})

test('start --dry-run with variation ids reads nothing; --plan sends the plan key', async (t) => {
  const server = await fake(t)
  const [a, b] = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222']
  const r = await cli(server, ['rollout', 'start', ...WHERE, '--to', a, '--from', b, '--plan', 'safe', '--bypass-health-check', 'metric_events_any', '--dry-run', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(JSON.parse(r.stdout).body), { bypassHealthChecks: ['metric_events_any'], originalVariationId: b, releasePlanKey: 'safe', targetVariationId: a })
  assert.equal(server.requests.length, 0)
})

test('bad words exit 2 naming the piece, before anything is sent', async (t) => {
  const server = await fake(t)
  const cases = [
    [['--to', 'Enabled', '--steps', '10%:10m,5%:1h'], /--steps: step 2 "5%:1h": each step must move more traffic than the one before \(10%\)/],
    [['--to', 'Enabled', '--steps', '1%:10m,10:30m'], /--steps: step 2 "10:30m": "10" is not a percentage such as 10% or 0\.5%/],
    [['--to', 'Enabled', '--steps', '1%:10m,10%:3x'], /--steps: step 2 "10%:3x": "3x" is not a duration such as 30s, 10m, 1h or 1h30m/],
    [['--to', 'Enabled', '--steps', '150%:1h'], /step 1 "150%:1h": the percentage must be more than 0% and at most 100%/],
    [['--to', 'Enabled', '--steps', '1%'], /step 1 "1%" must be percent:duration/],
    [['--to', 'Enabled'], /--steps is required/],
    [['--steps', '1%:1h'], /--to is required/],
    [['--to', 'Enabled', '--plan', 'p', '--steps', '1%:1h'], /--plan supplies the release: drop --steps/],
    [['--to', 'Enabled', '--steps', '1%:1h', '--advance', 'manaul'], /--advance must be manual or automatic, got "manaul" \(did you mean manual\?\)/],
    [['--to', 'Enabled', '--steps', '1%:1h', '--phase', 'country is NZ'], /--phase 1 "country is NZ": unknown operator "is"/],
    [['--to', 'Enabled', '--steps', '1%:1h', '--bypass-health-check', 'flag_evaluation_any'], /did you mean flag_evaluations_any\?/],
    [['--to', 'Enabled', '--steps', '1%:1h', '--metrics', 'x'], /unknown option --metrics \(did you mean --metric\?\)/],
    [['--to', 'Enabled', '--steps', '1%:1h', '--interval', 'soon'], /--interval must be a duration/],
  ]
  for (const [extra, message] of cases) {
    const r = await cli(server, ['rollout', 'start', ...WHERE, ...extra])
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message)
    assert.match(r.stderr, /Run 'ld-release rollout start --help' for usage\./)
  }
  assert.equal(server.requests.length, 0)
  const typo = await cli(server, ['rollout', 'stats', ...WHERE])
  assert.equal(typo.code, 2)
  assert.match(typo.stderr, /unknown command "rollout stats" \(did you mean rollout status\?\)/)
  // A variation the flag does not have: one read, then exit 2 with the near name.
  const wrong = await cli(server, ['rollout', 'start', ...WHERE, '--to', 'Enabeld', '--steps', '1%:1h'])
  assert.equal(wrong.code, 2)
  assert.match(wrong.stderr, /--to "Enabeld" is not a variation of new-checkout \(did you mean Enabled\?\): Enabled, Disabled/)
  assert.equal(posts(server).length, 0)
})

test('a refusal of the start exits 1 with its code: health checks, a release already running', async (t) => {
  const server = await fake(t, { failingHealthChecks: ['metric_events_any'] })
  const args = ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:1h', '--metric', 'checkout-errors']
  const refused = await cli(server, args)
  assert.equal(refused.code, 1, refused.stderr)
  assert.match(refused.stderr, /health_checks_failed.*to start anyway, pass --bypass-health-check metric_events_any\)/)
  assert.match(refused.stderr, /HTTP 400/)
  const started = await cli(server, [...args, '--bypass-health-check', 'metric_events_any', '--json'])
  assert.equal(started.code, 0, started.stderr)
  const release = JSON.parse(started.stdout)
  assert.match(release.id, UUID)
  assert.equal(release.kind, 'guarded')
  assert.equal(server.getEnvironmentRelease(release.id).status, 'in_progress')
  // While it runs the flag serves a rollout: --from must be named.
  const unnamed = await cli(server, [...args, '--bypass-health-check', 'metric_events_any'])
  assert.equal(unnamed.code, 2)
  assert.match(unnamed.stderr, /--from is required: new-checkout in production is not serving one variation \(it serves 2 variations there\)/)
  const again = await cli(server, [...args, '--bypass-health-check', 'metric_events_any', '--from', 'false', '--phase', 'country in NZ'])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /already has an active release/)
  assert.match(again.stderr, /HTTP 409/)
})

test('status draws the running release: phases and audiences, the step bar, metrics, status and reason', async (t) => {
  const server = await fake(t)
  const started = await cli(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:10m,10%:30m,50%:1h', '--metric', 'checkout-errors', '--phase', 'country in NZ', '--phase', 'everyone'])
  assert.equal(started.code, 0, started.stderr)
  assert.match(started.stderr, /started guarded release [0-9a-f-]{36}; follow it with: ld-release rollout watch web new-checkout production/)
  server.advance(11 * 60000)
  const r = await cli(server, ['rollout', 'status', ...WHERE])
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.match(lines[0], /^new-checkout in production · guarded release [0-9a-f-]{36}$/)
  assert.match(lines[1], /Disabled \(false\) → Enabled \(true\) · by user · automatic advance/)
  assert.equal(lines[2], '  status: in_progress')
  assert.match(lines[3], /^ {2}▸ phase 0 country in NZ {2}\[█▶·\] in_progress {2}step 2\/3: 10% · (29|30)m left of 30m · next 50%$/)
  assert.match(lines[4], /^ {4}phase 1 every user {5}\[···\] pending {2}1% → 10% → 50%$/)
  assert.equal(lines[5], '  metrics: checkout-errors ok (auto-rollback)')
  assert.match(lines[6], /^ {2}next step in (29|30)m/)
  assert.doesNotMatch(r.stdout, /\x1b/, 'no escapes when stdout is not a terminal')
  server.reportRegression(JSON.parse((await cli(server, ['rollout', 'status', ...WHERE, '--json'])).stdout).id, 'checkout-errors')
  const after = await cli(server, ['rollout', 'status', ...WHERE])
  assert.match(after.stdout, /status: reverted \(reverted_regression_detected: a metric regressed and the release was rolled back\)/)
  assert.match(after.stdout, /metrics: checkout-errors regressed \(auto-rollback\)/)
})

test('watch --json: one JSON object per change, exit 0 when completed', async (t) => {
  const server = await fake(t, { clock: { speed: 600 } })
  const release = await startGuarded(server, { steps: 3 })
  const r = await cli(server, ['rollout', 'watch', ...WHERE, release.id, '--json', '--interval', '200ms'])
  assert.equal(r.code, 0, r.stderr)
  const objects = r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line))
  assert.ok(objects.length >= 2, r.stdout)
  assert.ok(objects.every((o) => o.id === release.id))
  assert.equal(objects.at(-1).status, 'completed')
  assert.equal(objects.at(-1).statusReason, 'completed_automatic')
  assert.match(r.stderr, /completed \(completed_automatic\)/)
})

test('watch exits 4 when a regression reverts the release; plain lines when not a terminal', async (t) => {
  const server = await fake(t)
  const release = await startGuarded(server)
  let reported = false
  const r = await cli(server, ['rollout', 'watch', ...WHERE, '--interval', '200ms'], {
    onStdout: (out) => {
      if (!reported && out.includes('\n')) {
        reported = true
        server.reportRegression(release.id, 'checkout-errors')
      }
    },
  })
  assert.equal(r.code, 4, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.match(lines[0], /^\d{4}-\d\d-\d\d \d\d:\d\d · in_progress · phase 1\/1 step 1\/3 10% · checkout-errors ok · next step in 10m$/)
  assert.match(lines.at(-1), /· reverted \(reverted_regression_detected: a metric regressed and the release was rolled back\)$/)
  assert.doesNotMatch(r.stdout, /\x1b/)
  assert.match(r.stderr, /was reverted \(reverted_regression_detected\).*\(exit 4\)/)
})

test('watch exits 5 when the release waits for a person', async (t) => {
  const server = await fake(t)
  const release = await startGuarded(server, { autoRollback: false })
  let reported = false
  const r = await cli(server, ['rollout', 'watch', ...WHERE, release.id, '--interval', '200ms'], {
    onStdout: () => {
      if (!reported) {
        reported = true
        server.reportRegression(release.id, 'checkout-errors')
      }
    },
  })
  assert.equal(r.code, 5, r.stderr)
  assert.match(r.stdout, /waiting \(waiting_regression_detected/)
  assert.match(r.stderr, /is waiting for a person \(waiting_regression_detected\): stop it with ld-release rollout stop web new-checkout production [0-9a-f-]{36} --roll-back or --roll-forward/)
  assert.equal(server.getEnvironmentRelease(release.id).status, 'waiting')
})

test('watch exits 130 on Ctrl-C and says the release keeps running', async (t) => {
  const server = await fake(t)
  const release = await startGuarded(server)
  let sent = false
  const r = await cli(server, ['rollout', 'watch', ...WHERE, '--interval', '1s'], {
    onStdout: (_, child) => {
      if (!sent) {
        sent = true
        child.kill('SIGINT')
      }
    },
  })
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, new RegExp(`stopped watching \\(SIGINT\\): release ${release.id} keeps running; follow it again with: ld-release rollout watch web new-checkout production ${release.id}`))
  assert.equal(server.getEnvironmentRelease(release.id).status, 'in_progress')
})

test('start --watch on a terminal redraws in place with the time to the next step, and exits 4 on a rollback', { skip: !existsSync(SCRIPT) && 'no util-linux script here' }, async (t) => {
  const server = await fake(t, { clock: { speed: 600 } })
  const run = onTerminal(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:10m,5%:10m,10%:10m,20%:10m', '--metric', 'checkout-errors', '--watch', '--interval', '200ms'])
  // Report a regression once the release is at its third step.
  const timer = setInterval(() => {
    const list = releasesOf(server).length ? server.requests.filter((r) => r.method === 'POST') : []
    if (!list.length) return
    const id = [...server.requests].reverse().find((r) => /\/releases\/[0-9a-f-]{36}$/.test(r.path))?.path.split('/').at(-1)
    if (!id) return
    const now = server.getEnvironmentRelease(id)
    if (now.status === 'in_progress' && now.phases[0].currentStepIndex >= 2) {
      server.reportRegression(id, 'checkout-errors')
      clearInterval(timer)
    }
  }, 50)
  t.after(() => clearInterval(timer))
  const r = await run
  assert.equal(r.code, 4, r.out)
  assert.match(r.out, /\x1b\[\d+F\x1b\[J/, 'the drawing is redrawn in place')
  assert.match(r.out, /next step in \d+m/)
  const plain = r.out.replace(/\x1b\[[0-9;]*m/g, '')
  assert.match(plain, /\[█▶··\] in_progress {2}step 2\/4: 5% · \d+m(\d+s)? left of 10m · next 10%/)
  assert.match(r.out, /status: \x1b\[31mreverted\x1b\[39m \(reverted_regression_detected/, 'in colour on a terminal')
  assert.match(r.out, /\(exit 4\)/)
})

test('stop: --roll-back and --roll-forward --current map to resolutions; a terminal is asked first', async (t) => {
  const server = await fake(t)
  const none = await cli(server, ['rollout', 'stop', ...WHERE, '--yes'])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /give one of --roll-back or --roll-forward/)
  const release = await startGuarded(server)
  const dry = await cli(server, ['rollout', 'stop', ...WHERE, '--roll-forward', '--current', '--comment', 'ship it', '--dry-run', '--json'])
  assert.equal(dry.code, 0, dry.stderr)
  const preview = JSON.parse(dry.stdout)
  assert.equal(preview.method, 'PUT')
  assert.ok(preview.url.endsWith(`/releases/${release.id}/stop`))
  assert.deepEqual(JSON.parse(preview.body), { comment: 'ship it', resolution: 'roll_forward_current_phase_and_remove_pending_phases' })
  assert.equal(server.getEnvironmentRelease(release.id).status, 'in_progress')
  if (existsSync(SCRIPT)) {
    const declined = await onTerminal(server, ['rollout', 'stop', ...WHERE, '--roll-back'], { input: 'n\n' })
    assert.equal(declined.code, 1, declined.out)
    assert.match(declined.out, /Roll back every phase of release [0-9a-f-]{36} of new-checkout in production \(roll_back_all_phases_and_remove_pending_phases\)\? \[y\/N\]/)
    assert.match(declined.out, /nothing was changed/)
    assert.equal(server.getEnvironmentRelease(release.id).status, 'in_progress')
  }
  const stopped = await cli(server, ['rollout', 'stop', ...WHERE, '--roll-back', '--json'])
  assert.equal(stopped.code, 0, stopped.stderr)
  assert.equal(JSON.parse(stopped.stdout).statusReason, 'reverted_manual')
  const puts = server.requests.filter((r) => r.method === 'PUT')
  assert.equal(puts.length, 1)
  assert.deepEqual(JSON.parse(puts[0].body), { resolution: 'roll_back_all_phases_and_remove_pending_phases' })
  const again = await cli(server, ['rollout', 'stop', ...WHERE, '--roll-back'])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /has no running release in production \(the newest, [0-9a-f-]{36}, is reverted\)/)
})

test('list pages through the releases (--kind guarded, --json); policies draws the stages', async (t) => {
  const server = await fake(t)
  for (let i = 0; i < 3; i++) {
    // Each a rule of its own: a rolled-back release leaves its rule in place.
    const r = await startGuarded(server, { clauses: [{ contextKind: 'user', attribute: 'wave', op: 'in', values: [i] }] })
    server.reportRegression(r.id, 'checkout-errors')
  }
  const client = new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url })
  const f = await client.getFlag('web', 'new-checkout')
  await client.startEnvironmentRelease(...WHERE, { originalVariationId: f.variations[1]._id, targetVariationId: f.variations[0]._id, randomizationUnit: 'user', phases: [{ clauses: [], steps: [{ allocation: 5000, durationMillis: 60000 }] }] })
  const all = await cli(server, ['rollout', 'list', ...WHERE])
  assert.equal(all.code, 0, all.stderr)
  const lines = all.stdout.trimEnd().split('\n')
  assert.match(lines[0], /^ID +KIND +STATUS +REASON +PHASES +CREATED$/)
  assert.equal(lines.length, 5)
  assert.match(lines[1], /progressive +in_progress +1\/1/)
  assert.match(lines[2], /guarded +reverted +reverted_regression_detected +0\/1 done/)
  const guarded = await cli(server, ['rollout', 'list', ...WHERE, '--kind', 'guarded', '--json'])
  assert.deepEqual(JSON.parse(guarded.stdout).map((r) => r.kind), ['guarded', 'guarded', 'guarded'])
  assert.ok(server.requests.some((r) => r.path.includes('filter=kind+equals+guarded') || r.path.includes('filter=kind%20equals%20guarded')))
  const bad = await cli(server, ['rollout', 'list', ...WHERE, '--kind', 'guardd'])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /did you mean guarded\?/)

  const policies = await cli(server, ['policies', 'web'])
  assert.equal(policies.code, 0, policies.stderr)
  assert.equal(
    policies.stdout.trimEnd(),
    [
      '1. production-guarded Guarded releases in production · guarded-release · environments production',
      '   ▁▄ 10% 1h → 50% 1h  (by user, metrics checkout-errors, rolls back on a regression)',
      '- default Default release policy · progressive-release · default (every other flag)',
      '   ▂█ 25% 1h → 100% 1h  (by user)',
    ].join('\n'),
  )
  const json = await cli(server, ['policies', '--json'], { env: { LD_PROJECT: 'web' } })
  assert.deepEqual(JSON.parse(json.stdout).items.map((p) => p.key), ['production-guarded', 'default'])
  const missing = await cli(server, ['policies'])
  assert.equal(missing.code, 2)
  assert.match(missing.stderr, /policies needs a project: ld-release policies <project>, or set LD_PROJECT/)
})

test('text the server sent is printed inert, and the token never', async (t) => {
  const server = await fake(t)
  server.setFlag('web', {
    key: 'evil',
    name: 'Evil',
    variations: [{ value: 'a', name: `On\x1b[2J\x1b]0;pwned\x07 ${TOKEN}` }, { value: 'b', name: 'Off\u202e' }],
    environments: { production: { on: true, fallthrough: { variation: 1 } } },
  })
  const r = await cli(server, ['rollout', 'start', 'web', 'evil', 'production', '--to', 'a', '--steps', '10%:1h'])
  assert.equal(r.code, 0, r.stderr)
  const status = await cli(server, ['rollout', 'status', 'web', 'evil', 'production'])
  for (const out of [r.stdout, r.stderr, status.stdout, status.stderr]) {
    assert.doesNotMatch(out, /[\x00-\x08\x0b-\x1f\x7f\u202e]/)
    assert.ok(!out.includes(TOKEN))
  }
  assert.ok(status.stdout.includes('Off\\u{202e} ("b") → On\\u{1b}[2J\\u{1b}]0;pwned\\u{7} ****'), status.stdout)
})

test('help for each subcommand has an example', async (t) => {
  const server = await fake(t)
  for (const sub of ['start', 'status', 'watch', 'stop', 'list']) {
    const r = await cli(server, ['rollout', sub, '--help'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, new RegExp(`^Usage: ld-release rollout ${sub} <project> <flag> <environment>`))
    assert.match(r.stdout, new RegExp(`Example:\\n {2}ld-release rollout ${sub} web new-checkout production`))
  }
  const group = await cli(server, ['rollout', '--help'])
  assert.match(group.stdout, /Usage: ld-release rollout <start\|status\|watch\|stop\|list>/)
  const start = await cli(server, ['rollout', 'start', '--help'])
  assert.match(start.stdout, /--from <variation>/)
  assert.match(start.stdout, /the flag is read first, with a GET, unless --to and --from are variation ids/)
  assert.match(start.stdout, /5 it waits for a person/)
  assert.equal(server.requests.length, 0)
})
