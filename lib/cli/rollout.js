'use strict'
// `ld-release rollout start|status|watch|stop|list` and `ld-release policies`: environment
// releases (beta) from a terminal or a deploy pipeline. Each goes through the library's
// calls (startEnvironmentRelease, getEnvironmentRelease, watchEnvironmentRelease,
// stopEnvironmentRelease, listEnvironmentReleases, listReleasePolicies, getFlag), and
// --dry-run prints the library's own previewRequest.
//
// Exit codes of a watch (and start --watch): 0 completed, 4 reverted, 5 waiting for a
// person, 130 interrupted (the release keeps running).

const { ApiError, UsageError, didYouMean } = require('./args.js')
const { durationOption, parseAudience, parseSteps } = require('./rollout-parse.js')
const { latestTime, renderEnvironmentRelease, renderPolicies, renderReleaseList, watchLine } = require('./rollout-render.js')

const EXIT = { completed: 0, reverted: 4, waiting: 5, interrupted: 130 }
const TERMINAL = new Set(['completed', 'reverted'])
const HEALTH_CHECKS = ['flag_evaluations_any', 'flag_evaluations_with_context', 'metric_events_any', 'metric_events_with_context']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Text a server sent, as it may be printed: through the CLI's one function for it (`ctx.text`, see text.js). */
function serverText(ctx) {
  return (value) => ctx.text(value)
}

/** `value` as JSON (one line with `space` 0), through the CLI's one function for it (`ctx.json`, see text.js). */
function jsonLine(ctx, value, space = 0) {
  return ctx.json(value, space)
}

/** Whether output is drawn in place: stdout a terminal that understands escapes, and no --json. */
function drawsInPlace(ctx) {
  return Boolean(ctx.io.stdout?.isTTY) && !ctx.values.json && (ctx.io.env ?? process.env).TERM !== 'dumb'
}

// ---- variations --------------------------------------------------------------------

/** The variation of `flag` that `text` names: by id, then name, then value. */
function findVariation(ctx, flag, text, option) {
  const variations = Array.isArray(flag.variations) ? flag.variations : []
  const t = serverText(ctx)
  const byId = variations.find((v) => v._id === text)
  if (byId) return byId
  for (const match of [(v) => v.name === text, (v) => typeof v.name === 'string' && v.name.toLowerCase() === text.toLowerCase(), (v) => JSON.stringify(v.value) === text || String(v.value) === text]) {
    const found = variations.filter(match)
    if (found.length === 1) return found[0]
    if (found.length) throw ctx.usageError(`${option} ${JSON.stringify(text)} names ${found.length} variations of ${t(flag.key)}: give its id (${found.map((v) => t(v._id)).join(', ')})`)
  }
  const names = variations.map((v) => (typeof v.name === 'string' && v.name ? v.name : JSON.stringify(v.value)))
  throw ctx.usageError(`${option} ${JSON.stringify(text)} is not a variation of ${t(flag.key)}${didYouMean(text, names)}: ${names.map((n) => t(n)).join(', ')}`)
}

/** The one variation `flag` serves now in `environment`, or why there is none. */
function servedNow(flag, environment) {
  const env = flag.environments?.[environment]
  if (!env) return { why: `the flag has no environment ${environment}` }
  if (env.on === false) return typeof env.offVariation === 'number' ? { index: env.offVariation } : { why: 'the flag is off and serves no off variation' }
  const served = new Set()
  const add = (serve) => {
    if (typeof serve?.variation === 'number') served.add(serve.variation)
    else for (const w of serve?.rollout?.variations ?? []) if (w.weight > 0) served.add(w.variation)
  }
  add(env.fallthrough)
  for (const rule of env.rules ?? []) if (!rule.disabled) add(rule)
  if (served.size === 1) return { index: [...served][0] }
  return { why: served.size ? `it serves ${served.size} variations there` : 'what it serves there is not one variation' }
}

// ---- choosing a release --------------------------------------------------------------

/** The release `args.release` names, else the flag's running release there, else the newest. */
async function chooseRelease(ctx, client, { project, flag, environment, release }, { running = false } = {}) {
  if (release !== undefined) return release
  let newest
  let count = 0
  for await (const item of client.listEnvironmentReleases(project, flag, environment)) {
    newest ??= item
    if (!TERMINAL.has(item.status)) return item.id
    if (++count >= 100) break
  }
  const t = serverText(ctx)
  if (!newest) throw new ApiError(`${t(flag)} has no releases in ${t(environment)}`, 'ERR_LD_NOT_FOUND', 404)
  if (running) throw new ApiError(`${t(flag)} has no running release in ${t(environment)} (the newest, ${t(newest.id)}, is ${t(newest.status)}); name one to stop it anyway`, 'ERR_LD_NOT_FOUND')
  return newest.id
}

/** The flag, for names of variations and rules; null when it cannot be read (the drawing does without). */
function readFlag(client, project, flag) {
  return client.getFlag(project, flag, { maxRetries: 0 }).catch(() => null)
}

// ---- start -----------------------------------------------------------------------------

/** The start's input from the command line, checked before anything is read or sent. */
function startPlan(ctx) {
  const { values } = ctx
  const to = ctx.required('to')
  const inline = ['steps', 'unit', 'metric', 'no-auto-rollback', 'phase', 'rule-id', 'advance', 'cleanup'].filter((o) => values[o] !== undefined)
  if (values.plan !== undefined && inline.length) throw ctx.usageError(`--plan supplies the release: drop --${inline[0]}`)
  if (values.plan === undefined && values.steps === undefined) throw ctx.usageError('--steps is required (e.g. --steps 1%:10m,10%:30m,50%:1h), or --plan <key>')
  if (values['rule-id'] !== undefined && values.phase !== undefined) throw ctx.usageError('--rule-id releases on one existing rule: drop --phase')
  if (values['no-auto-rollback'] && values.metric === undefined) throw ctx.usageError('--no-auto-rollback needs a --metric to watch')
  if (values.advance !== undefined && !['manual', 'automatic'].includes(values.advance)) {
    throw ctx.usageError(`--advance must be manual or automatic, got ${JSON.stringify(values.advance)}${didYouMean(values.advance, ['manual', 'automatic'])}`)
  }
  for (const kind of values['bypass-health-check'] ?? []) {
    if (!HEALTH_CHECKS.includes(kind)) throw ctx.usageError(`--bypass-health-check ${JSON.stringify(kind)} is not a health check${didYouMean(kind, HEALTH_CHECKS)}: ${HEALTH_CHECKS.join(', ')}`)
  }
  // An option not given stays undefined, and is left out of the request.
  const common = { bypassHealthChecks: values['bypass-health-check'], comment: values.comment }
  if (values.plan !== undefined) return { to, from: values.from, common, release: { releasePlanKey: values.plan } }
  const unit = values.unit ?? 'user'
  const steps = parseSteps(values.steps, ctx.command)
  const phases = values['rule-id'] !== undefined ? [{ ruleId: values['rule-id'], steps }] : (values.phase ?? ['everyone']).map((text, i) => ({ clauses: parseAudience(text, i, unit, ctx.command), steps }))
  const release = { randomizationUnit: unit, advancementMode: values.advance ?? 'automatic', phases }
  if (values.metric) release.metrics = values.metric.map((metricKey) => ({ metricKey, autoRollback: !values['no-auto-rollback'] }))
  if (values.cleanup) release.cleanupBehavior = 'remove_rules_and_update_default_rule'
  return { to, from: values.from, common, release }
}

async function start(ctx, { project, flag, environment }) {
  const plan = startPlan(ctx)
  const intervalMs = ctx.values.interval === undefined ? undefined : durationOption('--interval', ctx.values.interval, 100, 3600000, ctx.command)
  if (ctx.values.watch && ctx.values['dry-run']) throw ctx.usageError('--watch follows a release that was started: it cannot go with --dry-run')
  const client = ctx.client()
  // Variations by id need no read; by name or value, or --from left out, the flag is read.
  const needsFlag = !UUID.test(plan.to) || plan.from === undefined || !UUID.test(plan.from)
  const flagObject = needsFlag ? await client.getFlag(project, flag) : null
  const target = flagObject ? findVariation(ctx, flagObject, plan.to, '--to')._id : plan.to
  let original
  if (plan.from !== undefined) original = flagObject ? findVariation(ctx, flagObject, plan.from, '--from')._id : plan.from
  else {
    const now = servedNow(flagObject, environment)
    // The variations are a list: the target was found among them.
    const variation = flagObject.variations[now.index]
    if (!variation) throw ctx.usageError(`--from is required: ${serverText(ctx)(flag)} in ${environment} is not serving one variation (${now.why ?? 'unknown variation'})`)
    original = variation._id
  }
  const input = { originalVariationId: original, targetVariationId: target, ...plan.release, ...plan.common }
  if (ctx.values['dry-run']) {
    ctx.print(ctx.ld.previewRequest('startEnvironmentRelease', project, flag, environment, input, ctx.clientOptions))
    return 0
  }
  const release = await client.startEnvironmentRelease(project, flag, environment, input).catch((error) => {
    // The library's advice names its own option; the command's is --bypass-health-check.
    // Only a refusal for failed health checks carries them (apiCode health_checks_failed).
    if (Array.isArray(error?.failedHealthChecks)) {
      error.message = error.message.replace(/pass bypassHealthChecks: \[[^\]]*\]/, `pass ${error.failedHealthChecks.map((k) => `--bypass-health-check ${k}`).join(' ')}`)
    }
    throw error
  })
  const t = serverText(ctx)
  // The start made the phases' rules: read the flag again to draw their audiences.
  const drawnFlag = ctx.values.json ? null : ((await readFlag(client, project, flag)) ?? flagObject)
  const started = `started ${release.kind ? `${t(release.kind)} ` : ''}release ${t(release.id)}`
  if (!ctx.values.watch) {
    show(ctx, release, drawnFlag)
    ctx.io.err(`${started}; follow it with: ld-release rollout watch ${t(project)} ${t(flag)} ${t(environment)} ${t(release.id)}`)
    return 0
  }
  ctx.io.err(started)
  return follow(ctx, client, { project, flag, environment, id: release.id, flagObject: drawnFlag, intervalMs })
}

// ---- status, watch ---------------------------------------------------------------------

function show(ctx, release, flagObject) {
  if (ctx.values.json) ctx.io.out(jsonLine(ctx, release, 2))
  else ctx.io.out(renderEnvironmentRelease(release, { text: serverText(ctx), flag: flagObject, color: ctx.color }))
}

async function status(ctx, args) {
  const client = ctx.client()
  const id = await chooseRelease(ctx, client, args)
  const release = await client.getEnvironmentRelease(args.project, args.flag, args.environment, id)
  show(ctx, release, ctx.values.json ? null : await readFlag(client, args.project, args.flag))
  return 0
}

async function watch(ctx, args) {
  const intervalMs = ctx.values.interval === undefined ? undefined : durationOption('--interval', ctx.values.interval, 100, 3600000, ctx.command)
  const client = ctx.client()
  const id = await chooseRelease(ctx, client, args)
  const flagObject = ctx.values.json ? null : await readFlag(client, args.project, args.flag)
  return follow(ctx, client, { ...args, id, flagObject, intervalMs })
}

/**
 * Follows a release with the library's watch until it ends or waits for a person:
 * redrawn in place on a terminal (with a countdown to the next step), else one line (or
 * one JSON object with --json) per change. `onChange` sees each release (the demo uses
 * it). Ctrl-C (SIGINT) stops watching at once; the release keeps running.
 */
async function follow(ctx, client, { project, flag, environment, id, flagObject, intervalMs, onChange }) {
  const { io, values } = ctx
  const t = serverText(ctx)
  const inPlace = drawsInPlace(ctx)
  const controller = new AbortController()
  let interrupted = null
  const onSignal = (signal) => {
    interrupted = signal
    controller.abort()
  }
  process.once('SIGINT', onSignal)
  let shownLines = 0
  let latest = null
  // The server's clock as of the newest answer, moved on by this machine's since.
  let clock = { server: 0, local: 0 }
  const now = () => Math.max(Date.now(), clock.server + (Date.now() - clock.local))
  const draw = () => {
    const drawing = renderEnvironmentRelease(latest, { text: t, flag: flagObject, color: ctx.color, now: now() })
    io.out(`${shownLines ? `\x1b[${shownLines}F\x1b[J` : ''}${drawing}`)
    shownLines = drawing.split('\n').length
  }
  const ticker = inPlace ? setInterval(() => latest && draw(), 1000) : null
  const options = { signal: controller.signal }
  if (intervalMs !== undefined) options.intervalMs = intervalMs
  try {
    for await (const release of client.watchEnvironmentRelease(project, flag, environment, id, options)) {
      latest = release
      clock = { server: Math.max(clock.server, latestTime(release)), local: Date.now() }
      if (values.json) io.out(jsonLine(ctx, release))
      else if (inPlace) draw()
      else io.out(watchLine(release, { text: t, now: now() }))
      await onChange?.(release)
      if (release.status === 'waiting') break
    }
  } catch (error) {
    if (!interrupted) throw error
  } finally {
    clearInterval(ticker)
    process.off('SIGINT', onSignal)
  }
  const where = `${t(project)} ${t(flag)} ${t(environment)} ${t(id)}`
  if (interrupted) {
    io.err(`stopped watching (${interrupted}): release ${t(id)} keeps running; follow it again with: ld-release rollout watch ${where}`)
    return EXIT.interrupted
  }
  // The watch yields its first read or throws: a release was read.
  const reason = latest.statusReason ? ` (${t(latest.statusReason)})` : ''
  if (latest.status === 'completed') {
    io.err(`release ${t(id)} completed${reason}`)
    return EXIT.completed
  }
  if (latest.status === 'reverted') {
    io.err(`release ${t(id)} was reverted${reason}: ${t(flag)} serves the original variation again where it rolled back (exit ${EXIT.reverted})`)
    return EXIT.reverted
  }
  io.err(`release ${t(id)} is waiting for a person${reason}: stop it with ld-release rollout stop ${where} --roll-back or --roll-forward, or continue it in LaunchDarkly (exit ${EXIT.waiting})`)
  return EXIT.waiting
}

// ---- stop --------------------------------------------------------------------------------

/** The resolution the flags name. */
function resolution(ctx) {
  const { values } = ctx
  if (Boolean(values['roll-back']) === Boolean(values['roll-forward'])) throw ctx.usageError('give one of --roll-back or --roll-forward')
  if (values['roll-back']) return values.current ? 'roll_back_current_phase_and_remove_pending_phases' : 'roll_back_all_phases_and_remove_pending_phases'
  return values.current ? 'roll_forward_current_phase_and_remove_pending_phases' : 'roll_forward_all_phases'
}

/** Asks on the terminal (`io.ask`); resolves true for y or yes, in any case. */
async function confirm(io, question) {
  const answer = await io.ask(`${question} [y/N] `)
  return /^y(es)?$/i.test(answer.trim())
}

async function stop(ctx, args) {
  const { io, values } = ctx
  const chosen = resolution(ctx)
  const options = { resolution: chosen, comment: values.comment }
  const client = ctx.client()
  const id = await chooseRelease(ctx, client, args, { running: true })
  const { project, flag, environment } = args
  if (values['dry-run']) {
    ctx.print(ctx.ld.previewRequest('stopEnvironmentRelease', project, flag, environment, id, { ...options, ...ctx.clientOptions }))
    return 0
  }
  const t = serverText(ctx)
  if (!values.yes && io.stdin?.isTTY && io.stderr?.isTTY) {
    const what = values['roll-back'] ? 'Roll back' : 'Roll forward'
    const scope = values.current ? 'its current phase' : values['roll-back'] ? 'every phase' : 'every phase, pending ones included'
    if (!(await confirm(io, `${what} ${scope} of release ${t(id)} of ${t(flag)} in ${t(environment)} (${chosen})?`))) {
      io.err('nothing was changed')
      return 1
    }
  }
  const release = await client.stopEnvironmentRelease(project, flag, environment, id, options)
  show(ctx, release, values.json ? null : await readFlag(client, project, flag))
  io.err(`stopped release ${t(id)} with ${chosen}`)
  return 0
}

// ---- list, policies ------------------------------------------------------------------

async function list(ctx, { project, flag, environment }) {
  const { kind } = ctx.values
  if (kind !== undefined && !['guarded', 'progressive'].includes(kind)) {
    throw ctx.usageError(`--kind must be guarded or progressive, got ${JSON.stringify(kind)}${didYouMean(kind, ['guarded', 'progressive'])}`)
  }
  const releases = []
  for await (const release of ctx.client().listEnvironmentReleases(project, flag, environment, kind ? { kind } : {})) releases.push(release)
  const t = serverText(ctx)
  if (ctx.values.json) ctx.io.out(jsonLine(ctx, releases, 2))
  else if (releases.length === 0) ctx.io.err(`${t(flag)} has no ${kind ? `${kind} ` : ''}releases in ${t(environment)}`)
  else ctx.io.out(renderReleaseList(releases, { text: t, color: ctx.color }))
  return 0
}

async function policies(ctx, { project }) {
  const env = ctx.io.env ?? process.env
  const key = project ?? (env.LD_PROJECT?.trim() || undefined)
  if (key === undefined) throw new UsageError('policies needs a project: ld-release policies <project>, or set LD_PROJECT', ctx.command)
  const answer = await ctx.client().listReleasePolicies(key)
  // The library's answer is an object (it refuses any other body); its items may be missing.
  const items = Array.isArray(answer.items) ? answer.items : []
  const t = serverText(ctx)
  if (ctx.values.json) ctx.io.out(jsonLine(ctx, answer, 2))
  else if (items.length === 0) ctx.io.err(`project ${t(key)} has no release policies`)
  else ctx.io.out(renderPolicies(items, { text: t, color: ctx.color }))
  return 0
}

/**
 * The demo's guarded release, against a fake LaunchDarkly whose clock runs 600 times
 * real time (a 10-minute step takes a second): start, follow a few steps, a regression
 * on its metric at the third step, the rollback, and the exit code a pipeline would see.
 */
async function demoGuardedRelease(ctx, heading, makeContext) {
  const { startFakeLaunchDarkly } = require('../../testing/index.js')
  const server = await startFakeLaunchDarkly({ clock: { speed: 600 } })
  try {
    const clientOptions = { apiKey: server.apiKey, baseUrl: server.url }
    const args = { project: 'web', flag: 'new-checkout', environment: 'production' }
    const steps = '1%:10m,5%:10m,10%:10m,25%:10m,50%:10m'
    heading(`\nA guarded release: ld-release rollout start web new-checkout production --to Enabled --steps ${steps} --metric checkout-errors --watch`)
    const startCtx = makeContext('rollout start', args, { to: 'Enabled', steps, metric: ['checkout-errors'] }, clientOptions)
    const client = startCtx.client()
    const flagObject = await client.getFlag('web', 'new-checkout')
    const plan = startPlan(startCtx)
    const input = { originalVariationId: flagObject.variations[1]._id, targetVariationId: flagObject.variations[0]._id, ...plan.release }
    const release = await client.startEnvironmentRelease('web', 'new-checkout', 'production', input)
    heading('(the fake runs 600× real time; at step 3 it reports a regression on checkout-errors)')
    const code = await follow(startCtx, client, {
      ...args,
      id: release.id,
      flagObject,
      intervalMs: 250,
      onChange: (r) => {
        // While in progress, a release has a current phase.
        if (r.status === 'in_progress' && r.phases[r.currentPhaseIndex].currentStepIndex === 2) server.reportRegression(r.id, 'checkout-errors')
      },
    })
    heading(`ld-release exits ${code}: ${code === EXIT.reverted ? 'reverted, so a deploy pipeline fails here' : 'see above'}.`)
    return code
  } finally {
    await server.close()
  }
}

module.exports = {
  'rollout start': start,
  'rollout status': status,
  'rollout watch': watch,
  'rollout stop': stop,
  'rollout list': list,
  policies,
  demoGuardedRelease,
  EXIT,
}
