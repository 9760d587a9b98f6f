'use strict'
// `complete-many`: many phase changes, within the rate limits. Items give a phase by
// index, by name or as `id:<id>`. Phases by index go through the library's
// completePhases; for the others, each release they name is read once, the phase is
// found there, and the kind of its release pipeline is read once per pipeline. On a
// legacy pipeline the change is sent with the same guard the library's completePhase
// uses (a `test` of the phase's id), so a release that moved in between is not changed;
// on a new pipeline the item goes to the library's completePhase (or reopenPhase) by
// id, which starts the next phase (or refuses).
//
// --dry-run reads every release and pipeline concerned, phases by index too, and
// previews the write the library would send for each item.

const { integer, parsePhase } = require('./args.js')
const { pipelineKind } = require('./pipeline.js')
const { checkPhases, describePhase, findPhase, guardedPatch, planFromRelease, readable } = require('./phases.js')
const { progressBar, renderPreview } = require('./render.js')

/** Errors that concern the whole command line, not one item: they end the command. */
const COMMAND_CODES = new Set(['ERR_LD_NO_API_KEY', 'ERR_LD_INSECURE_URL'])

const invalid = (message) => ({ code: 'ERR_LD_INVALID_ARGUMENT', message })

/**
 * One item of --file, planned: `send` for an item the library takes as it is (a phase
 * index, or anything it will refuse itself), `lookup` (`{ name }` or `{ id }`) for a
 * phase to find first, or `error`.
 */
function plan(raw, i) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { raw, error: invalid(`items[${i}] must be an object { projectKey, flagKey, phase, complete? }`) }
  }
  const item = { raw, projectKey: raw.projectKey, flagKey: raw.flagKey, phase: raw.phase, complete: raw.complete ?? true }
  const { phase } = raw
  if (typeof phase === 'string') {
    try {
      const parsed = parsePhase(phase)
      if (typeof parsed === 'number') item.send = { ...raw, phase: parsed }
      else item.lookup = parsed
    } catch (e) {
      item.error = invalid(`items[${i}].phase: ${e.message}`)
    }
  } else if (phase !== null && typeof phase === 'object' && (typeof phase.id === 'string' || typeof phase.name === 'string')) {
    item.lookup = typeof phase.id === 'string' ? { id: phase.id } : { name: phase.name }
  } else {
    item.send = raw
  }
  return item
}

/** Runs `work` on each of `list`, at most `concurrency` at a time. */
async function pool(list, concurrency, work) {
  let next = 0
  const runners = Array.from({ length: Math.min(concurrency, list.length) }, async () => {
    while (next < list.length) await work(list[next++])
  })
  await Promise.all(runners)
}

/**
 * Finds the phases of items that name theirs: reads each release concerned once, then
 * sets `release`, `index` and `id` on each item, or `error`. Then reads the kind of
 * each pipeline concerned once, and sets `pipeline` (`{ kind, why }`, see pipelineKind)
 * or `error`. With `all`, items with a phase by index are looked up too.
 */
async function lookUp(ctx, client, items, concurrency, { all = false } = {}) {
  if (all) {
    for (const item of items) {
      const phase = item.send?.phase
      if (!item.error && !item.lookup && Number.isInteger(phase) && phase >= 0 && typeof item.complete === 'boolean') item.lookup = { index: phase }
    }
  }
  const byRelease = new Map()
  for (const item of items.filter((it) => it.lookup && !it.error)) {
    const key = JSON.stringify([item.projectKey, item.flagKey])
    if (!byRelease.has(key)) byRelease.set(key, [])
    byRelease.get(key).push(item)
  }
  await pool([...byRelease.values()], concurrency, async (group) => {
    const { projectKey, flagKey } = group[0]
    let release
    try {
      release = await client.getRelease(projectKey, flagKey)
    } catch (error) {
      if (COMMAND_CODES.has(error?.code)) throw error
      for (const item of group) item.error = error
      return
    }
    for (const item of group) {
      item.release = release
      if (item.lookup.index !== undefined) continue
      try {
        item.index = findPhase(checkPhases(release), item.lookup, ctx.command)
        item.id = release.phases[item.index]._id
      } catch (error) {
        item.error = error
      }
    }
  })
  const byPipeline = new Map()
  for (const item of items.filter((it) => it.release && !it.error)) {
    // By index, the library reads no pipeline for a phase the release does not hold.
    if (item.lookup.index !== undefined && !(readable(item.release) && item.lookup.index < item.release.phases.length)) continue
    const key = JSON.stringify([item.projectKey, item.release.releasePipelineKey])
    if (!byPipeline.has(key)) byPipeline.set(key, [])
    byPipeline.get(key).push(item)
  }
  await pool([...byPipeline.values()], concurrency, async (group) => {
    const { projectKey, release } = group[0]
    try {
      const pipeline = await pipelineKind(ctx, client, projectKey, release.releasePipelineKey)
      for (const item of group) item.pipeline = pipeline
    } catch (error) {
      if (COMMAND_CODES.has(error?.code)) throw error
      for (const item of group) item.error = error
    }
  })
}

/** A looked-up item on a new pipeline: the library moves it (by id, so it reads the release as it is then). */
async function sendNew(client, item) {
  const { projectKey, flagKey, id, complete } = item
  try {
    return { ok: true, release: await client[complete === false ? 'reopenPhase' : 'completePhase'](projectKey, flagKey, { id }) }
  } catch (error) {
    return { ok: false, error }
  }
}

/** Sends the guarded change of a looked-up item; a refused guard is told from other refusals. */
async function sendGuarded(ctx, client, item) {
  const { projectKey, flagKey, index, id, complete } = item
  try {
    return { ok: true, release: await client.patchRelease(projectKey, flagKey, guardedPatch(ctx.ld, index, id, complete)) }
  } catch (error) {
    if (error?.code !== 'ERR_LD_BAD_REQUEST' && error?.code !== 'ERR_LD_CONFLICT') return { ok: false, error }
    const now = await client.getRelease(projectKey, flagKey).catch(() => null)
    const held = now?.phases[index]
    if (!now || held?._id === id) return { ok: false, error }
    const message =
      `the release of ${projectKey}/${flagKey} changed while phase ${JSON.stringify(id)} was being ${complete === false ? 'reopened' : 'completed'}: ` +
      `index ${index} now holds ${held ? JSON.stringify(held._name) : 'no phase'}; nothing was changed`
    return { ok: false, error: { code: 'ERR_LD_CONFLICT', status: error.status, message } }
  }
}

/** An error as complete-many shows it: its code, HTTP status and message (token masked). */
function plainError(ctx, error) {
  return { code: error?.code ?? 'ERR_LD_INVALID_ARGUMENT', status: error?.status, message: ctx.redact(String(error?.message ?? error)) }
}

function label(item) {
  return `${item.projectKey}/${item.flagKey} phase ${describePhase(item.phase)}`
}

/** `✗ web/a phase "QA": … (code ERR_LD_…)` */
function failure(ctx, item, error, { dryRun = false } = {}) {
  const { code, message } = plainError(ctx, error)
  return `✗ ${label(item)}: ${dryRun ? 'would fail: ' : ''}${message} (code ${code})`
}

/**
 * --dry-run: each item's write, previewed, or why it would fail. An item the library
 * would complete without a write (a phase of a new pipeline already complete) has
 * `request: null`.
 */
function dryRun(ctx, items) {
  const { io, values } = ctx
  const writes = items.map((item) => {
    if (item.error) return { item, error: item.error }
    try {
      if (item.release) {
        const phase = item.lookup.index ?? item.lookup
        const { request, notes } = planFromRelease(ctx, item.release, item.pipeline, { projectKey: item.projectKey, flagKey: item.flagKey, phase, complete: item.complete })
        return { item, request: request && ctx.preview(request, item.projectKey, item.flagKey), notes }
      }
      const patch = ctx.ld.phasePatch(item.send.phase, item.send.complete ?? true)
      return { item, request: ctx.ld.previewRequest('PATCH', item.projectKey, item.flagKey, patch, ctx.clientOptions) }
    } catch (error) {
      return { item, error }
    }
  })
  const failed = writes.filter((w) => w.error)
  if (values.json) {
    const entries = writes.map(({ item, request, error }) => ({
      projectKey: item.projectKey,
      flagKey: item.flagKey,
      phase: item.phase,
      ...(error ? { error: plainError(ctx, error) } : { request }),
    }))
    io.out(JSON.stringify(entries, null, 2))
  } else {
    const previews = writes.filter((w) => w.request).map((w) => renderPreview(w.request))
    if (previews.length) io.out(previews.join('\n\n'))
    for (const { item, request, error } of writes) {
      if (error) io.err(failure(ctx, item, error, { dryRun: true }))
      else if (request === null) io.err(`- ${label(item)}: already complete, would send nothing`)
    }
    const methods = new Map()
    for (const { request } of writes) if (request) methods.set(request.method, (methods.get(request.method) ?? 0) + 1)
    const counts = [...methods].map(([method, n]) => `${n} ${method} request${n === 1 ? '' : 's'}`).join(' and ')
    const sends = counts ? `would send ${counts}` : 'would send no request'
    const fails = failed.length ? `${failed.length} item${failed.length === 1 ? '' : 's'} would fail` : 'no item would fail'
    io.err(`${sends}; ${fails}; nothing was sent`)
  }
  return failed.length ? 1 : 0
}

async function completeMany(ctx) {
  const { io, values } = ctx
  const raw = ctx.readJson(values.file, '--file', { isPath: true })
  if (!Array.isArray(raw)) throw ctx.usageError('--file must hold a JSON array of { projectKey, flagKey, phase, complete? }')
  const concurrency = values.concurrency === undefined ? 8 : integer('--concurrency', values.concurrency, 1, 256, ctx.command)
  const items = raw.map(plan)
  const client = ctx.client()
  await lookUp(ctx, client, items, concurrency, { all: Boolean(values['dry-run']) })
  if (values['dry-run']) return dryRun(ctx, items)

  const total = items.length
  const bar = io.stderr?.isTTY ? progressBar(io.stderr) : null
  const results = items.map((item) => (item.error ? { ok: false, error: item.error } : undefined))
  let done = results.filter(Boolean).length
  bar?.update(done, total)
  const indexed = items.flatMap((item, i) => (item.send && !item.error ? [i] : []))
  if (indexed.length) {
    const before = done
    const options = { concurrency }
    if (bar) options.onProgress = (n) => bar.update(before + n, total)
    const out = await client.completePhases(
      indexed.map((i) => items[i].send),
      options,
    )
    out.forEach((result, k) => (results[indexed[k]] = result))
    done += indexed.length
  }
  const guarded = items.flatMap((item, i) => (item.lookup && !item.error ? [i] : []))
  await pool(guarded, concurrency, async (i) => {
    results[i] = await (items[i].pipeline?.kind === 'new' ? sendNew(client, items[i]) : sendGuarded(ctx, client, items[i]))
    bar?.update(++done, total)
  })
  bar?.done()

  const failed = results.filter((r) => !r.ok).length
  if (values.json) {
    const entries = results.map((r, i) => ({
      ok: r.ok,
      projectKey: items[i].projectKey,
      flagKey: items[i].flagKey,
      phase: items[i].phase,
      ...(r.ok ? { release: r.release } : { error: plainError(ctx, r.error) }),
    }))
    io.out(JSON.stringify(entries, null, 2))
  } else {
    results.forEach((r, i) => io.out(r.ok ? `✓ ${label(items[i])}` : failure(ctx, items[i], r.error)))
    io.err(`${results.length - failed} done, ${failed} failed`)
  }
  return failed ? 1 : 0
}

module.exports = { completeMany, plainError }
