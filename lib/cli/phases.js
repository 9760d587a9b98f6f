'use strict'
// Phase changes planned as the library makes them, for the writes --dry-run previews
// and for complete-many items. On a legacy release pipeline, a phase named by name or
// id is patched with a JSON Patch `test` that the phase at that index still has that
// id, then the change, so a release that moved in between is never patched at the wrong
// phase. On a new pipeline, phases move only forward: completing phase N starts phase
// N+1 (`PUT …/release/phases/{id}` with `{"status":"active"}`); a last phase cannot be
// completed, nor any phase reopened (ERR_LD_UNSUPPORTED, nothing written).

const { ApiError, UsageError } = require('./args.js')
const { pipelineKind } = require('./pipeline.js')

/** How many phases a message lists, and how many characters of each name it quotes, as the library does. */
const LISTED_PHASES = 20
const QUOTED_NAME_CHARS = 60

/** `0: "Testing", 1: "Staging", …`: the first 20 phases (names cut at 60 characters), then how many more. */
function phaseList(release) {
  const quoted = (name) => {
    const text = String(name)
    const cut = Array.from(text).slice(0, QUOTED_NAME_CHARS).join('')
    return `${JSON.stringify(cut)}${cut.length < text.length ? '…' : ''}`
  }
  const listed = release.phases.slice(0, LISTED_PHASES).map((p, i) => `${i}: ${quoted(p._name)}`)
  const more = release.phases.length - listed.length
  if (more > 0) listed.push(`and ${more} more`)
  return listed.length ? listed.join(', ') : 'none'
}

/**
 * The index of the phase `phase` (`{ name }` or `{ id }`) names in `release`. An unknown
 * or ambiguous name throws a UsageError with code ERR_LD_INVALID_ARGUMENT, as the
 * library refuses it.
 */
function findPhase(release, phase, command) {
  const [what, keep] =
    phase.id !== undefined ? [`with id ${JSON.stringify(phase.id)}`, (p) => p._id === phase.id] : [`named ${JSON.stringify(phase.name)}`, (p) => p._name === phase.name]
  const matches = release.phases.flatMap((p, i) => (keep(p) ? [i] : []))
  if (matches.length === 1) return matches[0]
  const message =
    matches.length === 0
      ? `no phase ${what}; the phases are ${phaseList(release)}`
      : `${matches.length} phases are ${what} (indexes [${matches.slice(0, LISTED_PHASES).join(', ')}]${matches.length > LISTED_PHASES ? ` and ${matches.length - LISTED_PHASES} more` : ''}); name the phase by index or id`
  throw Object.assign(new UsageError(message, command), { code: 'ERR_LD_INVALID_ARGUMENT' })
}

/**
 * Checks what the library checks of a release before it looks at the phases itself:
 * `phases`, an array of objects with `_id`, `_name` (strings) and `complete` (a boolean).
 */
function checkPhases(release) {
  const field = (i, name, type) => {
    throw new ApiError(`the release has no usable phases${i === undefined ? '' : `[${i}].${name}`} (${type} expected)`, 'ERR_LD_DECODE')
  }
  if (!Array.isArray(release?.phases)) field(undefined, '', 'an array')
  release.phases.forEach((p, i) => {
    if (p === null || typeof p !== 'object') field(i, '', 'an object')
    if (typeof p._id !== 'string') field(i, '_id', 'a string')
    if (typeof p._name !== 'string') field(i, '_name', 'a string')
    if (typeof p.complete !== 'boolean') field(i, 'complete', 'a boolean')
  })
  return release
}

/** The index `phase` (an index, `{ name }` or `{ id }`) means in `release`; a usage error if none. */
function phaseIndex(release, phase, command) {
  if (typeof phase !== 'number') return findPhase(release, phase, command)
  if (phase < release.phases.length) return phase
  throw Object.assign(new UsageError(`phase ${phase} does not exist: the release has ${release.phases.length} phases`, command), { code: 'ERR_LD_INVALID_ARGUMENT' })
}

/** `0 ("Testing")` */
const named = (release, index) => `${index} (${JSON.stringify(release.phases[index]._name)})`

/** The errors of a new pipeline, worded as the library words them. */
function unsupported(release, index, projectKey, flagKey, complete) {
  const pipeline = JSON.stringify(release.releasePipelineKey ?? '')
  const message = complete
    ? `Phase ${named(release, index)} is the last phase of the release of ${projectKey}/${flagKey}, in release pipeline ${pipeline} of the new kind: LaunchDarkly has no call that completes a last phase (a release is finished once its last phase is active; use startPhase). Nothing was changed`
    : `The release of ${projectKey}/${flagKey} is in release pipeline ${pipeline}, of the new kind, whose phases only move forward: a phase cannot be reopened. Nothing was changed`
  return new ApiError(message, 'ERR_LD_UNSUPPORTED')
}

/**
 * What `complete` (`complete` true) or `reopen` of `phase` will send, found by reading
 * the release and its pipeline as the library does: see `planFromRelease`.
 */
async function planPhaseChange(ctx, client, change) {
  const release = await client.getRelease(change.projectKey, change.flagKey)
  const kind = await kindFor(ctx, client, change, release)
  return planFromRelease(ctx, release, kind, change)
}

/**
 * The kind of the pipeline of `release`, when the plan needs it: `{ kind, why }` (see
 * pipelineKind), or undefined when the library would not read it either (a phase by
 * index the release does not hold, or phases it cannot read: the PATCH goes first).
 */
async function kindFor(ctx, client, { projectKey, phase }, release) {
  if (!readable(release) || (typeof phase === 'number' && phase >= release.phases.length)) return undefined
  // A phase that is not there fails before the pipeline is read, as in the library.
  phaseIndex(release, phase, ctx.command)
  return pipelineKind(ctx, client, projectKey, release.releasePipelineKey)
}

/** Whether the library can read the phases of `release` (see checkPhases). */
function readable(release) {
  try {
    checkPhases(release)
    return true
  } catch {
    return false
  }
}

/**
 * What the library's completePhase (`complete` true) or reopenPhase of `phase` sends,
 * given the release as read and the kind of its pipeline: `{ request, notes }`, where
 * `request` is `{ method: 'PATCH', patch }` or `{ method: 'PUT', url, body }`, or
 * `{ request: null, notes }` when the call writes nothing. Throws what the call fails
 * with: a usage error for a phase that is not there, ERR_LD_UNSUPPORTED for what a new
 * pipeline cannot do, ERR_LD_DECODE for phases the library cannot read.
 */
function planFromRelease(ctx, release, pipeline, { projectKey, flagKey, phase, complete }) {
  const byIndex = typeof phase === 'number'
  if (byIndex && pipeline === undefined) {
    // By index, the library sends the PATCH first, without reading anything.
    const count = Array.isArray(release?.phases) ? release.phases.length : 0
    const why = phase >= count ? `the release has ${count} phases: LaunchDarkly will refuse this PATCH` : 'the release\'s phases cannot be read: the call sends this PATCH all the same'
    return { request: { method: 'PATCH', patch: ctx.ld.phasePatch(phase, complete) }, notes: [`(${why})`] }
  }
  checkPhases(release)
  const index = phaseIndex(release, phase, ctx.command)
  const { kind, why } = pipeline
  if (kind !== 'new') {
    const notes = []
    if (!byIndex) notes.push(`(read from the release: phase ${index} is ${JSON.stringify(ctx.redact(release.phases[index]._name))}; the PATCH fails with ERR_LD_CONFLICT if that changes first)`)
    if (kind === 'unknown') notes.push(`(${ctx.redact(why)}: the call sends the PATCH, as to a legacy release pipeline)`)
    const id = release.phases[index]._id
    return { request: { method: 'PATCH', patch: byIndex ? ctx.ld.phasePatch(index, complete) : guardedPatch(ctx.ld, index, id, complete) }, notes }
  }
  if (!complete) throw unsupported(release, index, projectKey, flagKey, false)
  const what = `${JSON.stringify(ctx.redact(release.releasePipelineKey))} is a new release pipeline, whose phases only move forward`
  const first = byIndex ? ['(by index, the call first sends the PATCH, which a new release pipeline refuses with 400)'] : []
  if (release.phases[index].complete) {
    return { request: null, notes: [`(read from the release and its pipeline: ${what}, and phase ${ctx.redact(named(release, index))} is already complete: the call writes nothing and prints the release as it is)`, ...first] }
  }
  const next = release.phases[index + 1]
  if (!next) throw unsupported(release, index, projectKey, flagKey, true)
  return {
    request: { start: next._id },
    notes: [`(read from the release and its pipeline: ${what}: completing phase ${ctx.redact(named(release, index))} starts phase ${ctx.redact(named(release, index + 1))})`, ...first],
  }
}

/**
 * What `start` of `phase` will send: the PUT that starts it. A phase by id needs no
 * read; by index or name the release is read first, as the library does.
 */
async function planStart(ctx, client, { projectKey, flagKey, phase }) {
  if (typeof phase === 'object' && phase.id !== undefined) return { request: { start: phase.id }, notes: [] }
  const release = checkPhases(await client.getRelease(projectKey, flagKey))
  const index = phaseIndex(release, phase, ctx.command)
  return {
    request: { start: release.phases[index]._id },
    notes: [`(read from the release: phase ${index} is ${JSON.stringify(ctx.redact(release.phases[index]._name))})`],
  }
}

/** The patch for phase `index`, guarded by a test that it still has id `id`. */
function guardedPatch(ld, index, id, complete) {
  return [{ op: 'test', path: `/phases/${index}/_id`, value: id }, ...ld.phasePatch(index, complete)]
}

/** How a phase is shown: `0`, `"Staging"` or `id:<id>`. */
function describePhase(phase) {
  if (phase !== null && typeof phase === 'object') {
    if (typeof phase.id === 'string') return `id:${phase.id}`
    if (typeof phase.name === 'string') return JSON.stringify(phase.name)
  }
  if (typeof phase === 'string' && !/^(id:|\d+$)/.test(phase)) return JSON.stringify(phase)
  return typeof phase === 'string' ? phase : JSON.stringify(phase)
}

module.exports = { checkPhases, findPhase, guardedPatch, describePhase, kindFor, phaseList, readable, planFromRelease, planPhaseChange, planStart }
