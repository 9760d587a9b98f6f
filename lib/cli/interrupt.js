'use strict'
// Ctrl-C during a run that writes (`advance`, `complete-many`). The first SIGINT (or
// SIGTERM) aborts the run through its signal: the library stops it at once and says
// what became of each item, which the command prints before it exits 130 (143 for
// SIGTERM), as a shell reports a process ended by that signal. A second one exits at
// once, printing only that it did.

/** The exit code of a command interrupted by each signal: 128 + its number. */
const EXIT = { SIGINT: 130, SIGTERM: 143 }

/**
 * Listens for SIGINT and SIGTERM until `close()`. `signal` is aborted (its reason the
 * signal's name) by the first; `received` is that name, or null; `exitCode` its exit
 * code. A second signal writes one line on stderr and exits at once with its own code
 * (through `exit` and `stderr`, the process's unless a test gives its own).
 */
function interrupts({ exit = (code) => process.exit(code), stderr = process.stderr } = {}) {
  const controller = new AbortController()
  let received = null
  const on = (name) => {
    if (received) {
      stderr.write(`${name} again: exiting at once; a write in flight may or may not have been applied\n`)
      exit(EXIT[name])
      return
    }
    received = name
    controller.abort(name)
  }
  process.on('SIGINT', on)
  process.on('SIGTERM', on)
  return {
    signal: controller.signal,
    get received() {
      return received
    },
    get exitCode() {
      return EXIT[received]
    },
    close() {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
    },
  }
}

/**
 * The results of a run that `signal` stopped: the `results` of the AbortError it
 * rejected with. Anything else, or a rejection while the signal was not aborted, is
 * rethrown as it is.
 */
function interruptedResults(signal, error) {
  if (signal?.aborted && error?.name === 'AbortError' && Array.isArray(error.results)) return error.results
  throw error
}

/**
 * The line of an item an interruption cut short: `label` (already inert) and what its
 * `aborted` (`'not-sent'` or `'unknown'`) means, after `signal`.
 */
function cutShort(label, aborted, signal) {
  return aborted === 'unknown'
    ? `? ${label}: its write was in flight when ${signal} came: it may or may not have been applied (read the release to know)`
    : `- ${label}: not sent (${signal} came first): nothing was written`
}

/**
 * The last line of an interrupted run: `interrupted by SIGINT: 12 flags at …: 8
 * advanced, 0 failed, 1 in flight (…), 3 not sent`; `what` names the items (empty
 * results: the run was stopped before any write was sent), `done` what became of those
 * written.
 */
function interruptedSummary(results, signal, what, done) {
  if (results.length === 0) return `interrupted by ${signal} before any write was sent: nothing was written`
  const count = (test) => results.filter(test).length
  const unknown = count((r) => r.aborted === 'unknown')
  const skipped = count((r) => r.skipped)
  const parts = [
    `${count((r) => r.ok)} ${done}`,
    `${count((r) => !r.ok && !r.aborted && !r.skipped)} failed`,
    ...(skipped ? [`${skipped} skipped (not at that phase)`] : []),
    ...(unknown ? [`${unknown} in flight (may or may not have been applied)`] : []),
    `${count((r) => r.aborted === 'not-sent')} not sent`,
  ]
  return `interrupted by ${signal}: ${what}: ${parts.join(', ')}`
}

module.exports = { EXIT, cutShort, interruptedSummary, interrupts, interruptedResults }
