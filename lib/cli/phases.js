'use strict'
// Phases named by name or id, found as the library finds them when it completes one:
// for the writes --dry-run previews and for complete-many items. The write is the one
// the library sends: a JSON Patch `test` that the phase at that index still has that
// id, then the change, so a release that moved in between is never patched at the
// wrong phase.

const { UsageError } = require('./args.js')

/** `0: "Testing", 1: "Staging", …` */
function phaseList(release) {
  return release.phases.length ? release.phases.map((p, i) => `${i}: ${JSON.stringify(p._name)}`).join(', ') : 'none'
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
      : `${matches.length} phases are ${what} (indexes [${matches.join(', ')}]); name the phase by index or id`
  throw Object.assign(new UsageError(message, command), { code: 'ERR_LD_INVALID_ARGUMENT' })
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

module.exports = { findPhase, guardedPatch, describePhase, phaseList }
