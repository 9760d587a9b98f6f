'use strict'
// What the client is doing, on stderr: with --verbose, one line per attempt (its answer,
// and the retry that follows it), and one per rate-limit wait; on a terminal, a countdown
// during any wait longer than two seconds, --verbose or not. Read from the library's
// diagnostics channels; stdout is never written.

const dc = require('node:diagnostics_channel')
const { dumbTerminal } = require('./render.js')
const { inert } = require('./text.js')

const CHANNELS = {
  request: 'ld-release:request',
  response: 'ld-release:response',
  retry: 'ld-release:retry',
  wait: 'ld-release:wait',
}

/** Waits longer than this get a countdown on a terminal. */
const COUNTDOWN_AFTER_MS = 2000

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`

/** `-> 429 in 84 ms`, or how the attempt ended without an answer. */
function outcome(event) {
  const took = `${Math.round(event.durationMs)} ms`
  if (event.error === 'timeout') return `-> timed out after ${took}`
  if (event.error === 'network') return `-> connection failed after ${took}`
  if (event.error === 'too-large') return `-> ${event.status}, body too large, in ${took}`
  return `-> ${event.status} in ${took}`
}

const WAIT_REASONS = {
  paused: "a 429 paused this client's requests",
  budget: "the rate-limit window's budget is spent until X-Ratelimit-Reset",
}

/**
 * Subscribes to the library's channels and writes to `stream` (stderr): lines through
 * `line` (one call per line) when `verbose`; a countdown, when `stream` is a terminal,
 * for waits longer than `countdownAfterMs`. `redact` makes what is written inert and masks the token
 * in it (the CLI's `ctx.text`; by default, `inert` without a token).
 * Returns a function that unsubscribes and clears any countdown; when there is nothing
 * to do (neither verbose nor a terminal) it subscribes to nothing.
 */
function watchRequests({ stream, line, verbose = false, redact = inert, countdownAfterMs = COUNTDOWN_AFTER_MS, env = process.env }) {
  // A countdown is redrawn in place with escape sequences, which TERM=dumb does not read.
  const countdowns = Boolean(stream?.isTTY) && !dumbTerminal(env)
  if (!verbose && !countdowns) return () => {}
  let ticking = null
  let shown = false

  const clearCountdown = () => {
    clearInterval(ticking) // null when none: nothing to clear
    ticking = null
    if (shown) stream.write('\r\x1b[K')
    shown = false
  }
  const countdown = (label, ms) => {
    clearCountdown()
    if (!countdowns || ms <= countdownAfterMs) return
    const end = Date.now() + ms
    const draw = () => {
      const left = Math.ceil((end - Date.now()) / 1000)
      if (left <= 0) return clearCountdown()
      stream.write(`\r\x1b[K${label}: ${left} s…`)
      shown = true
    }
    draw()
    ticking = setInterval(draw, 1000)
    ticking.unref()
  }
  const say = (text) => {
    clearCountdown()
    line(redact(text))
  }

  // The answer of an attempt that will be retried waits for its retry, to share its line.
  const held = new Map()
  const key = (event) => `${event.method} ${event.url} ${event.attempt}`
  const handlers = {
    // The next attempt starts when a wait is over: its countdown goes.
    request: () => clearCountdown(),
    response: (event) => {
      const text = `${event.method} ${event.url} ${outcome(event)}`
      if (event.willRetry) held.set(key(event), text)
      else say(text)
    },
    retry: (event) => {
      const text = held.get(key(event)) ?? `${event.method} ${event.url} -> ${event.status ?? event.reason}`
      held.delete(key(event))
      if (verbose) say(`${text}; retrying in ${seconds(event.waitMs)} (${event.source})`)
      const why = event.reason === 'status' ? `HTTP ${event.status}` : event.reason
      countdown(`${event.method} ${redact(event.url)}: ${why}, retrying in`, event.waitMs)
    },
    wait: (event) => {
      if (verbose) say(`${event.method} ${event.url} waits ${seconds(event.waitMs)}: ${WAIT_REASONS[event.reason] ?? event.reason}`)
      countdown(`${event.method} ${redact(event.url)}: waiting for the rate limit`, event.waitMs)
    },
  }
  // Without --verbose, answers are not listened to (so the library does not publish
  // them); without a terminal, neither are attempts.
  const wanted = { request: countdowns, response: verbose, retry: true, wait: true }
  const subscribed = Object.entries(handlers).filter(([name]) => wanted[name])
  for (const [name, handler] of subscribed) dc.subscribe(CHANNELS[name], handler)
  return () => {
    for (const [name, handler] of subscribed) dc.unsubscribe(CHANNELS[name], handler)
    for (const text of held.values()) say(text)
    held.clear()
    clearCountdown()
  }
}

module.exports = { watchRequests, COUNTDOWN_AFTER_MS }
