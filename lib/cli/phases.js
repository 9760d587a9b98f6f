'use strict'
// Phase changes as the library makes them. A --dry-run asks the library itself
// (`{ dryRun: true }`): it reads what the real call reads (the release, and to complete
// or reopen the kind of its pipeline) and answers with the one write the call would
// send, or fails as the call would. Nothing here plans a write on its own.

/** `0 ("Testing")` */
const named = (ctx, release, index) => `${index} (${JSON.stringify(ctx.redact(release.phases[index]._name))})`

/** The index of the phase with id `id` in `release`, or -1. */
const indexOfId = (release, id) => (Array.isArray(release.phases) ? release.phases.findIndex((p) => p?._id === id) : -1)

/** The phase index a planned write names: the `/phases/N/` of a PATCH, or the phase a PUT starts. */
function writtenIndex(release, request) {
  if (request.method === 'PUT') return indexOfId(release, decodeURIComponent(request.url.split('/').at(-1)))
  // A body with no path in its first operation names no phase (exec reads "undefined").
  const found = /^\/phases\/(\d+)\//.exec(JSON.parse(request.body ?? '[]')?.[0]?.path)
  return found ? Number(found[1]) : -1
}

/**
 * What the library's dry run of a phase change found, in words for stderr: which phase a
 * name or id is, the kind of pipeline when it decides the write. `starting`: the change
 * is a startPhase (completing and reopening read the same).
 */
function notesFor(ctx, plan, { phase, starting = false }) {
  const { release, request, pipelineKind } = plan
  if (!release) return []
  const byIndex = typeof phase === 'number'
  const pipeline = JSON.stringify(ctx.redact(String(release.releasePipelineKey ?? '')))
  if (request === null) {
    const index = byIndex ? phase : phase.id !== undefined ? indexOfId(release, phase.id) : release.phases.findIndex((p) => p._name === phase.name)
    return [`(read from the release and its pipeline: ${pipeline} is a new release pipeline, whose phases only move forward, and phase ${named(ctx, release, index)} is already complete: the call writes nothing and prints the release as it is)`]
  }
  const index = writtenIndex(release, request)
  if (index < 0) return []
  if (starting) return [`(read from the release: phase ${index} is ${JSON.stringify(ctx.redact(release.phases[index]._name))})`]
  if (request.method === 'PUT') {
    return [`(read from the release and its pipeline: ${pipeline} is a new release pipeline, whose phases only move forward: completing phase ${named(ctx, release, index - 1)} starts phase ${named(ctx, release, index)})`]
  }
  const notes = []
  if (!byIndex) notes.push(`(read from the release: phase ${index} is ${JSON.stringify(ctx.redact(release.phases[index]._name))}; the PATCH fails with ERR_LD_CONFLICT if that changes first)`)
  if (pipelineKind === 'unknown') notes.push(`(the kind of release pipeline ${pipeline} could not be read: the call sends the PATCH, as to a legacy release pipeline)`)
  return notes
}

/**
 * The library's dry run of `action` (`completePhase`, `reopenPhase` or `startPhase`) of
 * `phase`: `{ preview, notes }`, `preview` the request the call would send (null when
 * it would write nothing). Throws what the call would fail with.
 */
async function dryRunPhase(ctx, client, { projectKey, flagKey, phase, action }) {
  const plan = await client[action](projectKey, flagKey, phase, { dryRun: true })
  return { preview: plan.request, notes: notesFor(ctx, plan, { phase, starting: action === 'startPhase' }) }
}

/** How a phase is shown: `0`, `"Staging"` or `id:<id>`. */
function describePhase(phase) {
  if (typeof phase?.id === 'string') return `id:${phase.id}`
  if (typeof phase?.name === 'string') return JSON.stringify(phase.name)
  // An index or `id:…` as typed; any other text is a name, quoted.
  if (typeof phase === 'string') return /^(id:|\d+$)/.test(phase) ? phase : JSON.stringify(phase)
  return JSON.stringify(phase)
}

module.exports = { describePhase, dryRunPhase, notesFor }
