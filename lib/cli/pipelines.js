'use strict'
// Release pipelines and the flags in them:
// - `pipelines <project> [--query <text>]`: the table of a project's release pipelines
//   (every page; with --query, those LaunchDarkly matches to the text);
// - `pipeline <project> <pipeline>`: its phases in order, with how many flags are at
//   each and how many are finished (the pipeline, and the counts of its progressions
//   from one request, the library's getReleaseProgressionSummary);
// - `advance <project> <pipeline> --from <phase>`: the library's advancePipeline, which
//   moves every flag whose active phase is that phase to the next one, one write each.

const { UsageError, integer, parsePhase } = require('./args.js')
const { cutShort, interruptedSummary, interrupts, interruptedResults } = require('./interrupt.js')
const { plainError } = require('./many.js')
const { describePhase } = require('./phases.js')
const { pipelinePhases, progressBar, renderPipelineChart, renderPipelineTable, renderPreview } = require('./render.js')

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`

/** `ld-release pipelines <project>`: a table, or every pipeline as a JSON array with --json. */
async function listPipelines(ctx, { project }) {
  const pipelines = []
  for await (const pipeline of ctx.client().listReleasePipelines(project, { query: ctx.values.query })) pipelines.push(pipeline)
  if (ctx.values.json) {
    ctx.io.out(ctx.json(pipelines))
  } else if (pipelines.length === 0) {
    ctx.io.err(`project ${ctx.text(project)} has no release pipelines`)
  } else {
    ctx.io.out(renderPipelineTable(pipelines, { color: ctx.color, text: (value) => ctx.text(value) }))
  }
  return 0
}

/**
 * Where the flags of `pipeline` stand, from the library's getReleaseProgressionSummary
 * (one request): for each phase, the flags whose active phase it is; the finished flags;
 * and the active flags whose phase the pipeline no longer has.
 */
function countsOf(pipeline, summary) {
  const phases = pipelinePhases(pipeline)
  // Stryker disable next-line ArrayDeclaration: an entry without an _id in place of none changes no count
  const listed = Array.isArray(summary.phases) ? summary.phases : []
  const byId = new Map(listed.map((p) => [p?._id, Number(p?.releaseCount) || 0]))
  const atPhase = phases.map((phase) => byId.get(phase.id) ?? 0)
  const atKnown = atPhase.reduce((a, b) => a + b, 0)
  return {
    total: summary.totalCount,
    finished: summary.completedCount,
    phases: phases.map((phase, i) => ({ index: i, id: phase.id, name: phase.name, flags: atPhase[i] })),
    elsewhere: Math.max(0, summary.activeCount - atKnown),
  }
}

/** `ld-release pipeline <project> <pipeline>`: the chart, or `{ pipeline, counts }` with --json. */
async function showPipeline(ctx, { project, pipeline: pipelineKey }) {
  const client = ctx.client()
  const pipeline = await client.getReleasePipeline(project, pipelineKey)
  const summary = await client.getReleaseProgressionSummary(project, pipelineKey)
  const counts = countsOf(pipeline, summary)
  if (ctx.values.json) ctx.io.out(ctx.json({ pipeline, counts }))
  else ctx.io.out(renderPipelineChart(pipeline, counts, { color: ctx.color, text: (value) => ctx.text(value) }))
  return 0
}

/** The phase of --from, as the library takes it: an index, `{ name }`, or `{ id }` for `id:<id>`. */
function fromPhase(ctx) {
  const text = ctx.required('from')
  try {
    return parsePhase(text, ctx.command)
  } catch (error) {
    throw new UsageError(`--from: ${error.message}`, ctx.command)
  }
}

/**
 * `ld-release advance <project> <pipeline> --from <phase>`: one write per flag whose
 * active phase is `--from`, through the library's advancePipeline. A listed flag whose
 * release is not at `--from` is skipped (nothing written), printed `↷ … skipped`. Exit 1
 * if any flag failed; skipped flags alone do not fail the run. --dry-run prints each
 * write and sends none.
 */
async function advance(ctx, { project, pipeline }) {
  const { io, values } = ctx
  const from = fromPhase(ctx)
  const concurrency = values.concurrency === undefined ? 8 : integer('--concurrency', values.concurrency, 1, 256, ctx.command)
  const dryRun = Boolean(values['dry-run'])
  const where = `phase ${ctx.text(describePhase(from))} of ${ctx.text(pipeline)}`
  const options = { concurrency, dryRun }
  const bar = !dryRun && io.stderr?.isTTY ? progressBar(io.stderr) : null
  if (bar) options.onProgress = (done, total) => bar.update(done, total)
  // Ctrl-C stops the writes, and what moved is still printed (see interrupt.js).
  const interrupt = interrupts()
  options.signal = interrupt.signal
  let results
  let stopped = null
  try {
    results = await ctx.client().advancePipeline(project, pipeline, from, options)
  } catch (error) {
    results = interruptedResults(interrupt.signal, error)
    stopped = interrupt.received
  } finally {
    bar?.done()
    interrupt.close()
  }
  const label = (r) => `${ctx.text(project)}/${ctx.text(r.flagKey)}`
  const skipped = results.filter((r) => r.skipped)
  /** A skipped flag as --json prints it. */
  const skipEntry = (r) => ({ ok: false, skipped: true, flagKey: r.flagKey, reason: r.reason, activePhaseId: r.activePhaseId, error: plainError(ctx, r.error) })
  const skipLine = (r) => `↷ ${label(r)} skipped (${ctx.text(r.reason)}): ${ctx.text(plainError(ctx, r.error).message)}`
  const skippedNote = skipped.length ? `, ${skipped.length} skipped (not at that phase)` : ''

  if (dryRun && stopped) {
    io.err(`interrupted by ${stopped}: a dry run, nothing was written`)
    return interrupt.exitCode
  }
  if (dryRun) {
    // A flag the real run would fail (a key no request can be made for) fails here too,
    // and a flag it would skip (not at the phase) is skipped.
    const planned = results.filter((r) => r.ok)
    const failing = results.filter((r) => !r.ok && !r.skipped)
    if (values.json) {
      io.out(ctx.json(results.map((r) => (r.ok ? { flagKey: r.flagKey, request: r.request } : r.skipped ? skipEntry(r) : { flagKey: r.flagKey, error: plainError(ctx, r.error) }))))
    } else if (planned.length) {
      io.out(planned.map((r) => renderPreview(r.request, { text: (value) => ctx.text(value) })).join('\n\n'))
    }
    if (!values.json) {
      for (const r of skipped) io.err(skipLine(r))
      for (const r of failing) {
        const { code, message } = plainError(ctx, r.error)
        io.err(`✗ ${label(r)}: ${ctx.text(message)} (code ${ctx.text(code)})`)
      }
    }
    const methods = new Map()
    for (const { request } of planned) methods.set(request.method, (methods.get(request.method) ?? 0) + 1)
    const requests = [...methods].map(([method, n]) => plural(n, `${method} request`)).join(', ')
    const keys = planned.map((r) => ctx.text(r.flagKey)).join(', ')
    const would = planned.length ? `${plural(planned.length, 'flag')} at ${where} would move: ${keys} (${requests}; nothing was written)` : `no flag at ${where} would move`
    const skips = skipped.length ? `; ${plural(skipped.length, 'listed flag')} would be skipped (not at that phase)` : ''
    io.err(ctx.text(failing.length ? `${would}${skips}; ${plural(failing.length, 'flag')} would fail` : results.length ? `${would}${skips}` : `no flag is at ${where}: nothing would move`))
    return failing.length ? 1 : 0
  }

  const failed = results.filter((r) => !r.ok && !r.skipped && !r.aborted).length
  if (values.json) {
    const entries = results.map((r) =>
      r.ok ? { ok: true, flagKey: r.flagKey, release: r.release } : r.skipped ? skipEntry(r) : r.aborted ? { ok: false, flagKey: r.flagKey, aborted: r.aborted } : { ok: false, flagKey: r.flagKey, error: plainError(ctx, r.error) },
    )
    io.out(ctx.json(entries))
  } else {
    for (const r of results) {
      if (r.ok) io.out(`✓ ${label(r)}`)
      else if (r.skipped) io.out(skipLine(r))
      else if (r.aborted) io.out(cutShort(label(r), r.aborted, stopped))
      else {
        const { code, message } = plainError(ctx, r.error)
        io.out(`✗ ${label(r)}: ${ctx.text(message)} (code ${ctx.text(code)})`)
      }
    }
  }
  if (stopped) {
    io.err(ctx.text(interruptedSummary(results, stopped, `${plural(results.length, 'flag')} at ${where}`, 'advanced')))
    return interrupt.exitCode
  }
  const advanced = results.filter((r) => r.ok).length
  io.err(ctx.text(results.length ? `${plural(results.length, 'flag')} at ${where}: ${advanced} advanced${skippedNote}, ${failed} failed` : `no flag is at ${where}: nothing to advance`))
  return failed ? 1 : 0
}

module.exports = { advance, countsOf, listPipelines, showPipeline }
