'use strict'
// `complete-many`: many phase changes, within the rate limits. Items give a phase by
// index, by name or as `id:<id>`. Phases by index go through the library's
// completePhases; the others through its completePhase (or reopenPhase), which finds
// the phase in the release and sends the write its pipeline's kind takes (on a legacy
// pipeline guarded by a `test` of the phase's id, so a release that moved in between
// is not changed).
//
// --dry-run is the library's own dry run of each item (`{ dryRun: true }`): the reads
// the real run makes, and the write each item would be sent, or why it would fail.

const { integer, parsePhase } = require('./args.js')
const { cutShort, interruptedResults, interruptedSummary, interrupts } = require('./interrupt.js')
const { describePhase, notesFor } = require('./phases.js')
const { progressBar, renderPreview } = require('./render.js')

const invalid = (message) => ({ code: 'ERR_LD_INVALID_ARGUMENT', message })

/**
 * One item of --file, read: `send` for an item the library's completePhases takes as it
 * is (a phase index, or anything it will refuse itself), `named` (`{ name }` or
 * `{ id }`) for a phase the library's completePhase finds, or `error`.
 */
function plan(raw, i) {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { raw, error: invalid(`items[${i}] must be an object { projectKey, flagKey, phase, complete? }`) }
  }
  const item = { raw, projectKey: raw.projectKey, flagKey: raw.flagKey, phase: raw.phase, complete: raw.complete }
  const { phase } = raw
  if (typeof phase === 'string') {
    try {
      const parsed = parsePhase(phase)
      // Stryker disable next-line ConditionalExpression,StringLiteral: an index sent through completePhase, as a named phase is, makes the same requests and results; completePhases takes indexes in one batch
      if (typeof parsed === 'number') item.send = { ...raw, phase: parsed }
      else item.named = parsed
    } catch (e) {
      item.error = invalid(`items[${i}].phase: ${e.message}`)
    }
  } else if (typeof phase?.id === 'string' || typeof phase?.name === 'string') {
    item.named = typeof phase.id === 'string' ? { id: phase.id } : { name: phase.name }
  } else {
    item.send = raw
  }
  return item
}

/** Runs `work` on each of `list`, at most `concurrency` at a time. */
async function pool(list, concurrency, work) {
  let next = 0
  const runners = Array.from({ length: concurrency }, async () => {
    while (next < list.length) await work(list[next++])
  })
  await Promise.all(runners)
}

/**
 * The library's call for a named item, with `options`; resolves to `{ ok, release |
 * error }` or the dry run. Ended once `options.signal` was aborted, its outcome is not
 * known (its write may have been sent): `{ ok: false, aborted: 'unknown' }`.
 */
async function sendNamed(client, item, options) {
  const { projectKey, flagKey, named, complete } = item
  try {
    const method = complete === false ? 'reopenPhase' : 'completePhase'
    const out = await client[method](projectKey, flagKey, named, options)
    return options.dryRun ? { ok: true, ...out } : { ok: true, release: out }
  } catch (error) {
    if (options.signal?.aborted) return { ok: false, aborted: 'unknown' }
    return { ok: false, error }
  }
}

/**
 * Every item through the library: those by index in one completePhases, those named one
 * call each. `results[i]` is `{ ok, release | error }`, or with `dryRun` `{ ok, request,
 * release, pipelineKind } | { ok: false, error }`. Once `signal` aborts, no more items
 * are started, and those the abort cut short are `{ ok: false, aborted: 'not-sent' |
 * 'unknown' }` (the library says which of completePhases' items; a named item under
 * way is `unknown`).
 */
async function runAll(ctx, items, concurrency, { dryRun = false, onDone, signal } = {}) {
  const client = ctx.client()
  const results = items.map((item) => (item.error ? { ok: false, error: item.error } : undefined))
  // An item is one of: refused here (`error`), by index (`send`), or named.
  const indexed = items.flatMap((item, i) => (item.send ? [i] : []))
  const options = { concurrency, signal }
  if (dryRun) options.dryRun = true
  if (onDone) options.onProgress = () => onDone()
  let out
  try {
    out = await client.completePhases(
      indexed.map((i) => items[i].send),
      options,
    )
  } catch (error) {
    out = interruptedResults(signal, error)
  }
  out.forEach((result, k) => (results[indexed[k]] = renumbered(result, k, indexed[k])))
  const named = items.flatMap((item, i) => (item.named ? [i] : []))
  await pool(named, concurrency, async (i) => {
    if (signal?.aborted) {
      results[i] = { ok: false, aborted: 'not-sent' }
      return
    }
    results[i] = await sendNamed(client, items[i], dryRun ? { dryRun: true } : { signal })
    onDone?.()
  })
  return results
}

/**
 * `result` with its error naming the item by its place in the file (`to`) rather than
 * in the batch given to completePhases (`from`): `items[4].phase is required`, not
 * `items[0]…`.
 */
function renumbered(result, from, to) {
  const prefix = `items[${from}]`
  if (result.ok || !result.error?.message.startsWith(prefix)) return result
  const { code, status, message } = result.error
  return { ...result, error: { code, status, message: `items[${to}]${message.slice(prefix.length)}` } }
}

function label(item) {
  return `${item.projectKey}/${item.flagKey} phase ${describePhase(item.phase)}`
}

/** `✗ web/a phase "QA": … (code ERR_LD_…)` */
function failure(ctx, item, error, { dryRun = false } = {}) {
  const { code, message } = plainError(ctx, error)
  return ctx.text(`✗ ${label(item)}: ${dryRun ? 'would fail: ' : ''}${message} (code ${code})`)
}

/**
 * --dry-run: each item's write as the library previews it, or why it would fail. An
 * item the library would complete without a write (a phase of a new pipeline already
 * complete) has `request: null`.
 */
async function dryRun(ctx, items, concurrency) {
  const { io, values } = ctx
  const results = await runAll(ctx, items, concurrency, { dryRun: true })
  const writes = results.map((r, i) => {
    const item = items[i]
    if (!r.ok) return { item, error: r.error }
    return { item, request: r.request, notes: notesFor(ctx, r, { phase: item.named ?? item.send.phase }) }
  })
  const failed = writes.filter((w) => w.error)
  if (values.json) {
    const entries = writes.map(({ item, request, error }) => ({
      projectKey: item.projectKey,
      flagKey: item.flagKey,
      phase: item.phase,
      ...(error ? { error: plainError(ctx, error) } : { request }),
    }))
    io.out(ctx.json(entries))
  } else {
    const previews = writes.filter((w) => w.request).map((w) => renderPreview(w.request, { text: (value) => ctx.text(value) }))
    if (previews.length) io.out(previews.join('\n\n'))
    for (const { item, request, error } of writes) {
      if (error) io.err(failure(ctx, item, error, { dryRun: true }))
      else if (request === null) io.err(ctx.text(`- ${label(item)}: already complete, would send nothing`))
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
  if (values['dry-run']) return dryRun(ctx, items, concurrency)

  const total = items.length
  const bar = io.stderr?.isTTY ? progressBar(io.stderr) : null
  let done = items.filter((item) => item.error).length
  bar?.update(done, total)
  // Ctrl-C stops the writes, and what moved is still printed (see interrupt.js).
  const interrupt = interrupts()
  let results
  try {
    results = await runAll(ctx, items, concurrency, { onDone: () => bar?.update(++done, total), signal: interrupt.signal })
  } finally {
    bar?.done()
    interrupt.close()
  }

  // Interrupted: some item was cut short (a run the signal came too late for is whole).
  const stopped = results.some((r) => r.aborted) ? interrupt.received : null
  const failed = results.filter((r) => !r.ok && !r.aborted).length
  if (values.json) {
    const entries = results.map((r, i) => ({
      ok: r.ok,
      projectKey: items[i].projectKey,
      flagKey: items[i].flagKey,
      phase: items[i].phase,
      ...(r.ok ? { release: r.release } : r.aborted ? { aborted: r.aborted } : { error: plainError(ctx, r.error) }),
    }))
    io.out(ctx.json(entries))
  } else {
    results.forEach((r, i) => io.out(r.ok ? ctx.text(`✓ ${label(items[i])}`) : r.aborted ? cutShort(ctx.text(label(items[i])), r.aborted, stopped) : failure(ctx, items[i], r.error)))
    if (!stopped) io.err(`${results.length - failed} done, ${failed} failed`)
  }
  if (stopped) {
    io.err(interruptedSummary(results, stopped, `${results.length} item${results.length === 1 ? '' : 's'}`, 'done'))
    return interrupt.exitCode
  }
  return failed ? 1 : 0
}

/** An error as complete-many shows it: its code, HTTP status and message (token masked). */
function plainError(ctx, error) {
  return { code: error.code, status: error.status, message: ctx.redact(String(error.message)) }
}

module.exports = { completeMany, plainError }
