// `ld-release rollout …` and `ld-release policies` run in this process (lib/cli/main.js's
// `main` with a recording io) against the fake: how each option becomes the request, how
// the variations and the release are chosen, each refusal, and what each command prints.
// cli-rollout.test.mjs runs the binary as users do; these are the fast checks of
// lib/cli/rollout.js itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { TOKEN, fake, ld, tinyServer } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { main } = require('../lib/cli/main.js')

const WHERE = ['web', 'new-checkout', 'production']

/**
 * Runs the CLI with `argv` against `server`; `env` is its environment, `stdout` and
 * `stderr` what it is told of its streams (a terminal or not), `onOut(line)` sees each
 * line of stdout as it is written. Lines keep their newline.
 */
async function run(server, argv, { env = {}, stdout, stderr, onOut } = {}) {
  const out = []
  const err = []
  const io = {
    out: (text) => {
      out.push(`${text}\n`)
      onOut?.(text)
    },
    err: (text) => err.push(`${text}\n`),
    readStdin: () => '',
    env,
    stdout,
    stderr,
  }
  const code = await main([...argv, '--access-token', TOKEN, '--base-uri', server.url], io)
  return { code, out: out.join(''), err: err.join('') }
}

/** The body of the request a `--dry-run --json` run printed. */
const sentBody = (r) => JSON.parse(JSON.parse(r.out).body)
/** The ids of a flag's variations, by name. */
const idsOf = (server, flag) => Object.fromEntries(server.getFlag('web', flag).variations.map((v) => [v.name, v._id]))
const writes = (server) => server.requests.filter((q) => q.method !== 'GET')
const usageError = (message, command = 'rollout start') => `error: ${message}\nRun 'ld-release ${command} --help' for usage.\n`

let wave = 0
/**
 * Starts a guarded release of new-checkout in production through the library: one phase
 * of three 10-minute steps, on a rule of its own (a release rolled back leaves its rule).
 */
async function startGuarded(server, { autoRollback = true } = {}) {
  const client = new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url })
  const ids = idsOf(server, 'new-checkout')
  return client.startEnvironmentRelease(...WHERE, {
    originalVariationId: ids.Disabled,
    targetVariationId: ids.Enabled,
    randomizationUnit: 'user',
    metrics: [{ metricKey: 'checkout-errors', autoRollback }],
    phases: [{ clauses: [{ contextKind: 'user', attribute: 'wave', op: 'in', values: [++wave] }], steps: [1, 2, 3].map((i) => ({ allocation: i * 10000, durationMillis: 600000 })) }],
  })
}

test('start --dry-run: every option becomes its part of the request', async (t) => {
  const server = await fake(t)
  const ids = idsOf(server, 'new-checkout')
  const r = await run(server, [
    'rollout', 'start', ...WHERE, '--to', 'enabled', '--from', 'false', '--steps', '1%:10m,50%:1h', '--unit', 'device', '--metric', 'checkout-errors', '--metric', 'checkout-latency',
    '--no-auto-rollback', '--advance', 'manual', '--cleanup', '--comment', 'deploy 7', '--bypass-health-check', 'metric_events_any', '--bypass-health-check', 'flag_evaluations_any', '--dry-run', '--json',
  ])
  assert.equal(r.code, 0, r.err)
  assert.deepEqual(sentBody(r), {
    originalVariationId: ids.Disabled,
    targetVariationId: ids.Enabled,
    randomizationUnit: 'device',
    advancementMode: 'manual',
    cleanupBehavior: 'remove_rules_and_update_default_rule',
    comment: 'deploy 7',
    bypassHealthChecks: ['metric_events_any', 'flag_evaluations_any'],
    metrics: [
      { metricKey: 'checkout-errors', autoRollback: false },
      { metricKey: 'checkout-latency', autoRollback: false },
    ],
    phases: [{ clauses: [{ attribute: 'kind', contextKind: 'device', op: 'in', values: ['device'] }], steps: [{ allocation: 1000, durationMillis: 600000 }, { allocation: 50000, durationMillis: 3600000 }] }],
  })
  const onRule = await run(server, ['rollout', 'start', ...WHERE, '--to', ids.Enabled, '--from', ids.Disabled, '--steps', '5%:1m', '--rule-id', 'r-1', '--metric', 'm', '--dry-run', '--json'])
  assert.deepEqual(sentBody(onRule), {
    originalVariationId: ids.Disabled,
    targetVariationId: ids.Enabled,
    randomizationUnit: 'user',
    advancementMode: 'automatic',
    metrics: [{ metricKey: 'm', autoRollback: true }],
    phases: [{ ruleId: 'r-1', steps: [{ allocation: 5000, durationMillis: 60000 }] }],
  })
  assert.equal(writes(server).length, 0)
  assert.equal(server.requests.length, 1, 'the flag was read for the names, once; not for the ids')
})

test('start: a variation by id, by name in any case, or by value; --from by default what the environment serves', async (t) => {
  const server = await fake(t)
  const layout = idsOf(server, 'checkout-layout')
  const chosen = async (flag, environment, ...flags) => {
    const r = await run(server, ['rollout', 'start', 'web', flag, environment, ...flags, '--steps', '1%:1m', '--dry-run', '--json'])
    assert.equal(r.code, 0, r.err)
    const body = sentBody(r)
    return [body.originalVariationId, body.targetVariationId]
  }
  // production has the flag off: it serves its off variation (Classic).
  assert.deepEqual(await chosen('checkout-layout', 'production', '--to', 'WIDE'), [layout.Classic, layout.Wide])
  assert.deepEqual(await chosen('checkout-layout', 'staging', '--to', '"compact"'), [layout.Classic, layout.Compact], 'on: the fallthrough')
  assert.deepEqual(await chosen('checkout-layout', 'staging', '--to', 'wide', '--from', layout.Compact), [layout.Compact, layout.Wide])
  server.setFlag('web', {
    key: 'numbers',
    variations: [{ value: 1 }, { value: 2 }, { value: { n: 3 } }],
    environments: {
      production: { on: true, fallthrough: { rollout: { variations: [{ variation: 0, weight: 100000 }, { variation: 1, weight: 0 }] } }, rules: [{ variation: 2, disabled: true, clauses: [] }] },
      staging: { on: true, fallthrough: { variation: 0 }, rules: [{ variation: 1, clauses: [] }] },
      test: { on: true, fallthrough: { rollout: { variations: [] } } },
    },
  })
  const numbers = server.getFlag('web', 'numbers').variations.map((v) => v._id)
  assert.deepEqual(await chosen('numbers', 'production', '--to', '{"n":3}'), [numbers[0], numbers[2]], 'a weight of 0 and a disabled rule serve nothing')
  assert.deepEqual(await chosen('numbers', 'production', '--to', '2'), [numbers[0], numbers[1]])
  const many = await run(server, ['rollout', 'start', 'web', 'numbers', 'staging', '--to', '2', '--steps', '1%:1m', '--dry-run'])
  assert.equal(many.err, usageError('--from is required: numbers in staging is not serving one variation (it serves 2 variations there)'))
  const none = await run(server, ['rollout', 'start', 'web', 'numbers', 'test', '--to', '2', '--steps', '1%:1m', '--dry-run'])
  assert.equal(none.err, usageError('--from is required: numbers in test is not serving one variation (what it serves there is not one variation)'))
  const nowhere = await run(server, ['rollout', 'start', 'web', 'numbers', 'nowhere', '--to', '2', '--steps', '1%:1m', '--dry-run'])
  assert.equal(nowhere.err, usageError('--from is required: numbers in nowhere is not serving one variation (the flag has no environment nowhere)'))
  assert.equal(writes(server).length, 0)
})

test('start: a name two variations share, or no variation, is refused with the ids or the names there are', async (t) => {
  const server = await fake(t)
  server.setFlag('web', { key: 'twins', variations: [{ value: 'a', name: 'Same' }, { value: 'b', name: 'same' }, { value: 'c' }], environments: { production: { on: true, fallthrough: { variation: 2 } } } })
  const [a, b] = server.getFlag('web', 'twins').variations.map((v) => v._id)
  const start = (to) => run(server, ['rollout', 'start', 'web', 'twins', 'production', '--to', to, '--steps', '1%:1m'])
  const exact = await run(server, ['rollout', 'start', 'web', 'twins', 'production', '--to', 'Same', '--steps', '1%:1m', '--dry-run', '--json'])
  assert.equal(sentBody(exact).targetVariationId, a, 'the exact name first')
  const twice = await start('SAME')
  assert.deepEqual([twice.code, twice.err], [2, usageError(`--to "SAME" names 2 variations of twins: give its id (${a}, ${b})`)])
  const missing = await start('Sam')
  assert.deepEqual([missing.code, missing.err], [2, usageError('--to "Sam" is not a variation of twins (did you mean Same?): Same, same, "c"')])
  const from = await run(server, ['rollout', 'start', 'web', 'twins', 'production', '--to', 'c', '--from', 'zzz', '--steps', '1%:1m'])
  assert.equal(from.err, usageError('--from "zzz" is not a variation of twins: Same, same, "c"'))
  assert.equal(writes(server).length, 0)
})

test('start: options that cannot go together are refused before anything is sent', async (t) => {
  const server = await fake(t)
  const cases = [
    [['--plan', 'p', '--phase', 'everyone'], '--plan supplies the release: drop --phase'],
    [['--plan', 'p', '--cleanup'], '--plan supplies the release: drop --cleanup'],
    [['--steps', '1%:1m', '--rule-id', 'r', '--phase', 'everyone'], '--rule-id releases on one existing rule: drop --phase'],
    [['--steps', '1%:1m', '--no-auto-rollback'], '--no-auto-rollback needs a --metric to watch'],
    [['--steps', '1%:1m', '--advance', 'later'], '--advance must be manual or automatic, got "later"'],
    [['--steps', '1%:1m', '--bypass-health-check', 'nope'], '--bypass-health-check "nope" is not a health check: flag_evaluations_any, flag_evaluations_with_context, metric_events_any, metric_events_with_context'],
    [['--steps', '1%:1m', '--watch', '--dry-run'], '--watch follows a release that was started: it cannot go with --dry-run'],
    [['--steps', '1%:1m', '--interval', '50ms'], '--interval must be a duration from 100ms to 1h such as 10s or 1m, got "50ms"'],
  ]
  for (const [flags, message] of cases) {
    const r = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', ...flags])
    assert.deepEqual([r.code, r.out, r.err], [2, '', usageError(message)], flags.join(' '))
  }
  assert.equal(server.requests.length, 0)
})

test('start: the drawing and how to follow it; --json prints the release alone; --watch follows it to its end', async (t) => {
  const server = await fake(t, { clock: { speed: 600 } })
  const started = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:10m', '--metric', 'checkout-errors', '--phase', 'wave in 1'])
  assert.equal(started.code, 0, started.err)
  const id = server.requests.find((q) => q.method === 'POST') && JSON.parse((await run(server, ['rollout', 'status', ...WHERE, '--json'])).out).id
  assert.match(started.out, new RegExp(`^new-checkout in production · guarded release ${id}\n {2}Disabled \\(false\\) → Enabled \\(true\\) · by user · automatic advance`))
  assert.equal(started.err, `started guarded release ${id}; follow it with: ld-release rollout watch web new-checkout production ${id}\n`)
  await run(server, ['rollout', 'stop', ...WHERE, '--roll-back'])

  const before = server.requests.length
  const json = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--from', 'Disabled', '--steps', '1%:10m', '--phase', 'wave in 2', '--json'])
  assert.equal(json.code, 0, json.err)
  const release = JSON.parse(json.out)
  assert.equal(release.kind, 'progressive')
  assert.deepEqual(server.requests.slice(before).map((q) => q.method), ['GET', 'POST'], 'with --json, the flag is not read again to draw it')
  await run(server, ['rollout', 'stop', ...WHERE, '--roll-back'])

  const watched = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--from', 'Disabled', '--steps', '1%:10m,2%:10m', '--phase', 'wave in 3', '--watch', '--json', '--interval', '100ms'])
  assert.equal(watched.code, 0, watched.err)
  const objects = watched.out.trimEnd().split('\n').map((line) => JSON.parse(line))
  assert.equal(objects.at(-1).status, 'completed')
  const watchedId = objects[0].id
  assert.equal(watched.err, `started progressive release ${watchedId}\nrelease ${watchedId} completed (completed_automatic)\n`)
})

test('status and watch: the release named, else the running one, else the newest; none is an error', async (t) => {
  const server = await fake(t)
  const none = await run(server, ['rollout', 'status', ...WHERE])
  assert.deepEqual([none.code, none.err], [1, 'error: new-checkout has no releases in production (code ERR_LD_NOT_FOUND, HTTP 404)\n'])
  const first = await startGuarded(server)
  server.reportRegression(first.id, 'checkout-errors')
  const second = await startGuarded(server, { autoRollback: false })
  const shown = async (...extra) => JSON.parse((await run(server, ['rollout', 'status', ...WHERE, ...extra, '--json'])).out)
  assert.equal((await shown()).id, second.id, 'the running one')
  assert.equal((await shown(first.id)).id, first.id, 'the one named')
  server.reportRegression(second.id, 'checkout-errors')
  const waiting = await run(server, ['rollout', 'watch', ...WHERE, '--interval', '100ms'])
  assert.equal(waiting.code, 5, waiting.err)
  assert.match(waiting.out, /· waiting \(waiting_regression_detected: /)
  assert.equal(
    waiting.err,
    `release ${second.id} is waiting for a person (waiting_regression_detected): stop it with ld-release rollout stop web new-checkout production ${second.id} --roll-back or --roll-forward, or continue it in LaunchDarkly (exit 5)\n`,
  )
  await run(server, ['rollout', 'stop', ...WHERE, '--roll-forward'])
  assert.equal((await shown()).id, second.id, 'none running: the newest')
  const reverted = await run(server, ['rollout', 'watch', ...WHERE, first.id, '--json'])
  assert.equal(reverted.code, 4)
  assert.equal(JSON.parse(reverted.out).id, first.id)
  assert.equal(reverted.err, `release ${first.id} was reverted (reverted_regression_detected): new-checkout serves the original variation again where it rolled back (exit 4)\n`)
})

test('stop: each pair of flags is its resolution, the comment goes with it, and the stop is said', async (t) => {
  const server = await fake(t)
  const cases = [
    [['--roll-back'], 'roll_back_all_phases_and_remove_pending_phases'],
    [['--roll-back', '--current'], 'roll_back_current_phase_and_remove_pending_phases'],
    [['--roll-forward'], 'roll_forward_all_phases'],
    [['--roll-forward', '--current', '--comment', 'ship it'], 'roll_forward_current_phase_and_remove_pending_phases'],
  ]
  for (const [flags, resolution] of cases) {
    const release = await startGuarded(server)
    const r = await run(server, ['rollout', 'stop', ...WHERE, ...flags])
    assert.equal(r.code, 0, r.err)
    assert.equal(r.err, `stopped release ${release.id} with ${resolution}\n`)
    assert.match(r.out, new RegExp(`^new-checkout in production · guarded release ${release.id}\n`))
    const put = server.requests.filter((q) => q.method === 'PUT').at(-1)
    assert.deepEqual(JSON.parse(put.body), flags.includes('--comment') ? { comment: 'ship it', resolution } : { resolution })
  }
  const both = await run(server, ['rollout', 'stop', ...WHERE, '--roll-back', '--roll-forward'])
  assert.deepEqual([both.code, both.err], [2, usageError('give one of --roll-back or --roll-forward', 'rollout stop')])
})

test('list: a table, or a word when there are none; policies: the project from LD_PROJECT, and a word when it has none', async (t) => {
  const server = await fake(t)
  const empty = await run(server, ['rollout', 'list', ...WHERE])
  assert.deepEqual([empty.code, empty.out, empty.err], [0, '', 'new-checkout has no releases in production\n'])
  const progressive = await run(server, ['rollout', 'list', ...WHERE, '--kind', 'progressive'])
  assert.equal(progressive.err, 'new-checkout has no progressive releases in production\n')
  const release = await startGuarded(server)
  const table = await run(server, ['rollout', 'list', ...WHERE])
  assert.equal(table.out.split('\n')[1].split(/ {2,}/).slice(0, 4).join('|'), `${release.id}|guarded|in_progress|1/1`)
  const bad = await run(server, ['rollout', 'list', ...WHERE, '--kind', 'other'])
  assert.deepEqual([bad.code, bad.err], [2, usageError('--kind must be guarded or progressive, got "other"', 'rollout list')])

  const fromEnv = await run(server, ['policies'], { env: { LD_PROJECT: ' web ' } })
  assert.equal(fromEnv.code, 0, fromEnv.err)
  assert.match(fromEnv.out, /^1\. production-guarded /)
  const blank = await run(server, ['policies'], { env: { LD_PROJECT: '  ' } })
  assert.deepEqual([blank.code, blank.err], [2, usageError('policies needs a project: ld-release policies <project>, or set LD_PROJECT', 'policies')])
  const client = new ld.ReleaseClient({ apiKey: server.apiKey, baseUrl: server.url })
  for (const policy of (await client.listReleasePolicies('web')).items) await client.deleteReleasePolicy('web', policy.key)
  const none = await run(server, ['policies', 'web'])
  assert.deepEqual([none.code, none.out, none.err], [0, '', 'project web has no release policies\n'])
})

test('start: --plan takes the release from the plan and refuses each option that describes one', async (t) => {
  const server = await fake(t)
  const ids = idsOf(server, 'new-checkout')
  const planned = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--from', 'Disabled', '--plan', 'safe', '--dry-run', '--json'])
  assert.equal(planned.code, 0, planned.err)
  assert.deepEqual(sentBody(planned), { originalVariationId: ids.Disabled, targetVariationId: ids.Enabled, releasePlanKey: 'safe' })
  const inline = [['--steps', '1%:1m'], ['--unit', 'device'], ['--metric', 'm'], ['--no-auto-rollback'], ['--phase', 'everyone'], ['--rule-id', 'r'], ['--advance', 'manual'], ['--cleanup']]
  for (const flags of inline) {
    const r = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--plan', 'safe', ...flags])
    assert.deepEqual([r.code, r.err], [2, usageError(`--plan supplies the release: drop ${flags[0]}`)], flags[0])
  }
  const neither = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled'])
  assert.equal(neither.err, usageError('--steps is required (e.g. --steps 1%:10m,10%:30m,50%:1h), or --plan <key>'))
  for (const [word, near] of [['manul', 'manual'], ['automatc', 'automatic']]) {
    const r = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:1m', '--advance', word])
    assert.equal(r.err, usageError(`--advance must be manual or automatic, got "${word}" (did you mean ${near}?)`))
  }
  const automatic = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:1m', '--advance', 'automatic', '--dry-run', '--json'])
  assert.equal(sentBody(automatic).advancementMode, 'automatic')
  assert.equal(writes(server).length, 0)
})

test('start: ids are taken as they are only when both are whole ids; else the flag is read', async (t) => {
  const server = await fake(t)
  const ids = idsOf(server, 'new-checkout')
  const reads = () => server.requests.filter((q) => q.method === 'GET').length
  const toOnly = await run(server, ['rollout', 'start', ...WHERE, '--to', ids.Enabled, '--steps', '1%:1m', '--dry-run', '--json'])
  assert.deepEqual([sentBody(toOnly).originalVariationId, reads()], [ids.Disabled, 1], 'no --from: the flag is read for what production serves')
  for (const id of [`x${ids.Enabled}`, `${ids.Enabled}x`]) {
    const r = await run(server, ['rollout', 'start', ...WHERE, '--to', id, '--from', ids.Disabled, '--steps', '1%:1m', '--dry-run'])
    assert.equal(r.code, 2)
    assert.match(r.err, new RegExp(`^error: --to "${id}" is not a variation of new-checkout`))
  }
  assert.equal(reads(), 3)
})

test('start: what an environment serves, read from flags as LaunchDarkly may send them', async (t) => {
  const server = await fake(t)
  server.setFlag('web', {
    key: 'odd',
    variations: [{ value: 'a', name: '' }, { value: 'b', name: 5 }, { value: 'c', name: 'C' }],
    environments: {
      production: { on: false, fallthrough: { variation: 0 }, offVariation: 1 },
      staging: { on: true, fallthrough: { variation: 2 }, rules: [{ clauses: [] }] },
    },
  })
  const odd = server.getFlag('web', 'odd').variations.map((v) => v._id)
  const from = async (environment, to) => {
    const r = await run(server, ['rollout', 'start', 'web', 'odd', environment, '--to', to, '--steps', '1%:1m', '--dry-run', '--json'])
    assert.equal(r.code, 0, r.err)
    return sentBody(r).originalVariationId
  }
  assert.equal(await from('production', 'C'), odd[1], 'off: its off variation, not its fallthrough')
  assert.equal(await from('staging', 'a'), odd[2], 'a rule that serves nothing adds nothing')
  const missing = await run(server, ['rollout', 'start', 'web', 'odd', 'production', '--to', 'D', '--steps', '1%:1m'])
  assert.equal(missing.err, usageError('--to "D" is not a variation of odd (did you mean C?): "a", "b", C'), 'a name that is empty or not text: the value instead')

  // A flag as a server may send it: no environments, an environment with no off
  // variation, or nothing served.
  const flags = {
    bare: { key: 'bare', variations: [{ _id: 'v0', value: true, name: 'On' }] },
    off: { key: 'off', variations: [{ _id: 'v0', value: true, name: 'On' }], environments: { production: { on: false } } },
    empty: { key: 'empty', variations: [{ _id: 'v0', value: true, name: 'On' }], environments: { production: { on: true } } },
  }
  const bare = await tinyServer(t, (req) => ({ body: flags[req.url.split('/').at(-1)] }))
  for (const [key, why] of [['bare', 'the flag has no environment production'], ['off', 'the flag is off and serves no off variation'], ['empty', 'what it serves there is not one variation']]) {
    const r = await run(bare, ['rollout', 'start', 'web', key, 'production', '--to', 'On', '--steps', '1%:1m', '--dry-run'])
    assert.deepEqual([r.code, r.err], [2, usageError(`--from is required: ${key} in production is not serving one variation (${why})`)], key)
  }
})

test('status draws the release with the names the flag gives; stop --dry-run previews the stop; with none running, stop refuses', async (t) => {
  const server = await fake(t)
  const release = await startGuarded(server)
  const drawn = await run(server, ['rollout', 'status', ...WHERE])
  assert.match(drawn.out, /^ {2}Disabled \(false\) → Enabled \(true\) · by user · automatic advance/m)
  assert.match(drawn.out, /^ {2}▸ phase 0 wave in \d+ {2}\[▶··\]/m, 'the audience from the rule the start made')
  const dry = await run(server, ['rollout', 'stop', ...WHERE, '--roll-back', '--comment', 'undo', '--dry-run', '--json'])
  assert.equal(dry.code, 0, dry.err)
  const preview = JSON.parse(dry.out)
  assert.deepEqual([preview.method, preview.url.endsWith(`/releases/${release.id}/stop`), JSON.parse(preview.body)], ['PUT', true, { comment: 'undo', resolution: 'roll_back_all_phases_and_remove_pending_phases' }])
  // A terminal on stderr alone asks nothing: the answer would come from stdin.
  const stopped = await run(server, ['rollout', 'stop', ...WHERE, '--roll-forward'], { stderr: { isTTY: true, write: () => true } })
  assert.equal(stopped.code, 0, stopped.err)
  assert.equal(server.requests.filter((q) => q.method === 'PUT').length, 1)
  const none = await run(server, ['rollout', 'stop', ...WHERE, '--roll-back'])
  assert.deepEqual(
    [none.code, none.err],
    [1, `error: new-checkout has no running release in production (the newest, ${release.id}, is completed); name one to stop it anyway (code ERR_LD_NOT_FOUND)\n`],
  )
  assert.equal(server.requests.filter((q) => q.method === 'PUT').length, 1)
})

test('choosing a release: the first that is not over, read from the newest, at most 100 of them', async (t) => {
  const over = Array.from({ length: 100 }, (_, i) => ({ id: `old-${i}`, status: i % 2 ? 'completed' : 'reverted' }))
  const pages = {
    ordered: [[{ id: 'done', status: 'completed' }, { id: 'live', status: 'waiting' }]],
    many: [over, [{ id: 'live', status: 'in_progress' }]],
  }
  const server = await tinyServer(t, (req) => {
    const url = new URL(req.url, 'http://x')
    const flag = url.pathname.split('/')[6]
    if (url.pathname.endsWith('/releases')) {
      const page = Number(url.searchParams.get('offset') ?? 0) / 100
      return { body: { items: pages[flag][page] ?? [], totalCount: pages[flag].flat().length } }
    }
    if (url.pathname.includes('/releases/')) return { body: { id: url.pathname.split('/').at(-1), status: 'completed', phases: [] } }
    return { status: 404, body: { code: 'not_found', message: 'no flag' } }
  })
  const chosen = async (flag) => JSON.parse((await run(server, ['rollout', 'status', 'web', flag, 'production', '--json'])).out).id
  assert.equal(await chosen('ordered'), 'live')
  assert.equal(await chosen('many'), 'old-0', 'none of the first 100: the newest')
  assert.equal(server.requests.filter((q) => q.url.includes('/flags/many/') && q.url.includes('/releases?')).length, 1, 'one page read')
})

test('watch: in place on a terminal, lines elsewhere, the interval asked for, and times by the server clock', async (t) => {
  // The fake's clock ten hours ahead of this machine's, standing still.
  const server = await fake(t, { clock: { start: Date.now() + 10 * 3600000 } })
  const terminal = { isTTY: true, write: () => true }
  const follow = async (release, flags, streams = {}) => {
    let reported = false
    const r = await run(server, ['rollout', 'watch', ...WHERE, release.id, '--interval', '100ms', ...flags], {
      ...streams,
      onOut: () => {
        if (!reported) {
          reported = true
          server.reportRegression(release.id, 'checkout-errors')
        }
      },
    })
    assert.equal(r.code, 4, r.err)
    return r.out
  }
  const listeners = process.listenerCount('SIGINT')
  const lines = await follow(await startGuarded(server), [])
  assert.match(lines, /^\d{4}-\d\d-\d\d \d\d:\d\d · in_progress · phase 1\/1 step 1\/3 10% · checkout-errors ok · next step in 10m\n/)
  assert.equal(process.listenerCount('SIGINT'), listeners, 'the Ctrl-C handler is removed')
  const drawn = await follow(await startGuarded(server), [], { stdout: terminal })
  assert.match(drawn.replace(/\x1b\[\d+m/g, ''), /^new-checkout in production · guarded release [^\n]+\n(?:.*\n)* {2}next step in 10m /)
  assert.match(drawn, /\n\x1b\[\d+F\x1b\[J/, 'redrawn in place')
  const dumb = await follow(await startGuarded(server), [], { stdout: terminal, env: { TERM: 'dumb' } })
  assert.match(dumb, /^\d{4}-\d\d-\d\d \d\d:\d\d · in_progress/)
  const json = await follow(await startGuarded(server), ['--json'], { stdout: terminal })
  assert.equal(JSON.parse(json.split('\n')[0]).status, 'in_progress')
  const bad = await run(server, ['rollout', 'watch', ...WHERE, '--interval', 'soon'])
  assert.deepEqual([bad.code, bad.err], [2, usageError('--interval must be a duration from 100ms to 1h such as 10s or 1m, got "soon"', 'rollout watch')])
})

test('list --kind filters what is listed; --json prints the lists and policies as sent; a project is needed', async (t) => {
  const server = await fake(t)
  const release = await startGuarded(server)
  const progressive = await run(server, ['rollout', 'list', ...WHERE, '--kind', 'progressive'])
  assert.deepEqual([progressive.out, progressive.err], ['', 'new-checkout has no progressive releases in production\n'])
  const guarded = await run(server, ['rollout', 'list', ...WHERE, '--kind', 'guarded', '--json'])
  assert.deepEqual(JSON.parse(guarded.out).map((r) => r.id), [release.id])
  assert.match(guarded.out, /^\[\n {2}\{\n/, 'indented')
  for (const [word, near] of [['guardd', 'guarded'], ['progresive', 'progressive']]) {
    const r = await run(server, ['rollout', 'list', ...WHERE, '--kind', word])
    assert.equal(r.err, usageError(`--kind must be guarded or progressive, got "${word}" (did you mean ${near}?)`, 'rollout list'))
  }
  const policies = await run(server, ['policies', 'web', '--json'])
  assert.deepEqual(JSON.parse(policies.out).items.map((p) => p.key), ['production-guarded', 'default'])
  const unnamed = await run(server, ['policies'])
  assert.deepEqual([unnamed.code, unnamed.err], [2, usageError('policies needs a project: ld-release policies <project>, or set LD_PROJECT', 'policies')])
})
