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
 * Runs the CLI with `argv` against `server`; `env` is its environment, `stdin`, `stdout`
 * and `stderr` what it is told of its streams (a terminal or not), `ask(question)` answers
 * its questions, `onOut(line)` sees each line of stdout as it is written. Lines keep their
 * newline.
 */
async function run(server, argv, { env = {}, stdin, stdout, stderr, ask, onOut } = {}) {
  const out = []
  const err = []
  const io = {
    out: (text) => {
      out.push(`${text}\n`)
      onOut?.(text)
    },
    err: (text) => err.push(`${text}\n`),
    readStdin: () => '',
    ask,
    env,
    stdin,
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
  const id = JSON.parse((await run(server, ['rollout', 'status', ...WHERE, '--json'])).out).id
  assert.match(started.out, new RegExp(`^new-checkout in production · guarded release ${id}\n {2}Disabled \\(false\\) → Enabled \\(true\\) · by user · automatic advance`))
  assert.equal(started.err, `started guarded release ${id}; follow it with: ld-release rollout watch web new-checkout production ${id}\n`)
  assert.match(started.out, /^ {2}▸ phase 0 wave in 1 {2}\[/m, 'drawn with the flag read after the start, which made the rule')
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

test('stop on a terminal asks first, naming what it will do; only y or yes, in any case, goes on', async (t) => {
  const server = await fake(t)
  const terminal = { isTTY: true, write: () => true }
  const stop = async (flags, answer) => {
    const asked = []
    const release = server.getEnvironmentRelease((await startGuarded(server)).id)
    const r = await run(server, ['rollout', 'stop', ...WHERE, ...flags], { stdin: terminal, stderr: terminal, ask: async (question) => (asked.push(question), answer) })
    return { ...r, asked, id: release.id, status: server.getEnvironmentRelease(release.id).status }
  }
  const back = await stop(['--roll-back'], 'n')
  assert.deepEqual(back.asked, [`Roll back every phase of release ${back.id} of new-checkout in production (roll_back_all_phases_and_remove_pending_phases)? [y/N] `])
  assert.deepEqual([back.code, back.out, back.err, back.status], [1, '', 'nothing was changed\n', 'in_progress'])
  for (const answer of ['', 'ye', 'yes please', 'okay', 'no']) {
    const r = await run(server, ['rollout', 'stop', ...WHERE, '--roll-back'], { stdin: terminal, stderr: terminal, ask: async () => answer })
    assert.deepEqual([r.code, r.err], [1, 'nothing was changed\n'], JSON.stringify(answer))
  }
  const yes = await run(server, ['rollout', 'stop', ...WHERE, '--roll-back', '--yes'], { stdin: terminal, stderr: terminal, ask: () => assert.fail('--yes asks nothing') })
  assert.equal(yes.code, 0, yes.err)
  const forward = await stop(['--roll-forward'], ' YES ')
  assert.deepEqual(forward.asked, [`Roll forward every phase, pending ones included of release ${forward.id} of new-checkout in production (roll_forward_all_phases)? [y/N] `])
  assert.deepEqual([forward.code, forward.status], [0, 'completed'])
  const current = await stop(['--roll-back', '--current'], 'y')
  assert.deepEqual(current.asked, [`Roll back its current phase of release ${current.id} of new-checkout in production (roll_back_current_phase_and_remove_pending_phases)? [y/N] `])
  assert.deepEqual([current.code, current.status], [0, 'reverted'])
  // No terminal on stdin (or stderr): nothing to ask on.
  const piped = await run(server, ['rollout', 'stop', ...WHERE, '--roll-back'], { stderr: terminal, ask: () => assert.fail('asked without a terminal') })
  assert.equal(piped.code, 1, 'none running any more')
  await startGuarded(server)
  const noStderr = await run(server, ['rollout', 'stop', ...WHERE, '--roll-back'], { stdin: terminal, ask: () => assert.fail('asked without a terminal') })
  assert.equal(noStderr.code, 0, noStderr.err)
})

test('start refused for failed health checks names the option for each; two failing are two options', async (t) => {
  const server = await fake(t, { failingHealthChecks: ['metric_events_any', 'flag_evaluations_any'] })
  const r = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:1m', '--metric', 'checkout-errors'])
  assert.equal(r.code, 1)
  assert.match(r.err, /to start anyway, pass --bypass-health-check flag_evaluations_any --bypass-health-check metric_events_any\)/)
  await startGuarded(server).catch(() => {})
  const other = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--steps', '1%:1m', '--bypass-health-check', 'metric_events_any', '--bypass-health-check', 'flag_evaluations_any', '--phase', 'wave in 99'])
  assert.equal(other.code, 0, other.err)
  const again = await run(server, ['rollout', 'start', ...WHERE, '--to', 'Enabled', '--from', 'Disabled', '--steps', '1%:1m', '--phase', 'wave in 98'])
  assert.equal(again.code, 1)
  assert.match(again.err, /already has an active release.*\(code ERR_LD_CONFLICT, HTTP 409\)\n$/)
})

test('answers a server may send: no variations, an off variation out of range, no kind, no reason, no policies, a flag that cannot be read', async (t) => {
  const flags = {
    novar: { key: 'novar', environments: {} },
    far: { key: 'far', variations: [{ _id: 'v0', value: true, name: 'On' }, { _id: 'v1', value: false, name: 'Off' }], environments: { production: { on: false, offVariation: 9 } } },
  }
  let flagReads = 0
  const server = await tinyServer(t, (req) => {
    const path = req.url.split('?')[0]
    if (path.startsWith('/api/v2/flags/web/broken')) return (flagReads++, { status: 503, body: { code: 'unavailable', message: 'try later' } })
    if (path.startsWith('/api/v2/flags/web/')) return { body: flags[path.split('/').at(-1)] }
    if (path.endsWith('/release-policies')) return { body: {} }
    if (req.method === 'POST') return { status: 201, body: { id: 'r1', status: 'in_progress', phases: [] } }
    if (path.endsWith('/releases')) return { body: { items: [{ id: 'r1', status: 'in_progress' }], totalCount: 1 } }
    return { body: { id: 'r1', status: 'completed', phases: [] } }
  })
  const novar = await run(server, ['rollout', 'start', 'web', 'novar', 'production', '--to', 'On', '--steps', '1%:1m'])
  assert.equal(novar.err, usageError('--to "On" is not a variation of novar: '))
  const far = await run(server, ['rollout', 'start', 'web', 'far', 'production', '--to', 'On', '--steps', '1%:1m'])
  assert.equal(far.err, usageError('--from is required: far in production is not serving one variation (unknown variation)'))
  const started = await run(server, ['rollout', 'start', 'web', 'broken', 'production', '--to', '11111111-1111-4111-8111-111111111111', '--from', '22222222-2222-4222-8222-222222222222', '--steps', '1%:1m'])
  assert.equal(started.code, 0, started.err)
  assert.equal(started.err, 'started release r1; follow it with: ld-release rollout watch web broken production r1\n')
  assert.equal(flagReads, 1, 'the flag read for the drawing is tried once, without retries')
  const watched = await run(server, ['rollout', 'watch', 'web', 'broken', 'production', '--json'])
  assert.deepEqual([watched.code, watched.err], [0, 'release r1 completed\n'])
  const none = await run(server, ['policies', 'web'])
  assert.deepEqual([none.code, none.out, none.err], [0, '', 'project web has no release policies\n'], 'an answer without items')
})

test('watch in place: redrawn each second over the lines drawn before, counting down by the server clock; polled at --interval', async (t) => {
  // The fake's clock ten hours ahead of this machine's, standing still.
  const server = await fake(t, { clock: { start: Date.now() + 10 * 3600000 } })
  const release = await startGuarded(server)
  const reads = () => server.requests.filter((q) => q.path.endsWith(`/releases/${release.id}`)).length
  const frames = []
  let first
  const done = run(server, ['rollout', 'watch', ...WHERE, release.id, '--interval', '100ms'], {
    stdout: { isTTY: true, write: () => true },
    onOut: (frame) => {
      frames.push(frame)
      first ??= reads()
    },
  })
  // Once it has been redrawn by the second's tick and read five more times, a regression.
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      if (frames.length >= 2 && reads() >= first + 5) {
        clearInterval(timer)
        resolve()
      }
    }, 20)
  })
  server.reportRegression(release.id, 'checkout-errors')
  const r = await done
  assert.equal(r.code, 4, r.err)
  const plain = frames.map((f) => f.replace(/\x1b\[\d+m/g, ''))
  assert.match(plain[0], /\n {2}next step in 10m \(/)
  assert.match(plain[1], /^\x1b\[6F\x1b\[J/, 'over the six lines drawn before')
  assert.match(plain[1], /\n {2}next step in 9m5\ds \(/, 'a second later by the server clock')
})
