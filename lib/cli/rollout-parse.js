'use strict'
// The words of `ld-release rollout start`, turned into what the library takes: steps
// (`1%:10m,10%:30m,50%:1h` to allocations in thousandths of a percent and milliseconds),
// durations, and phase audiences (`everyone`, `segment:KEY`, `country in NZ,AU and …`).
// Pure: each error names the piece that is wrong.

const { UsageError } = require('./args.js')

/** 100% in thousandths of a percent, as LaunchDarkly counts allocations. */
const FULL = 100000
const UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000, d: 86400000 }

/**
 * `30s`, `10m`, `1h30m`, `1d`, `500ms` as milliseconds; null when `text` is not one.
 * Each part is a whole number with its unit; the total is at least 1 ms.
 */
function parseDuration(text) {
  const source = String(text).trim()
  if (!/^(\d+(ms|s|m|h|d))+$/.test(source)) return null
  let total = 0
  for (const [, n, unit] of source.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(n) * UNITS[unit]
  return total >= 1 && Number.isSafeInteger(total) ? total : null
}

/** `1%`, `0.5%`, `12.345%` as thousandths of a percent; null when `text` is not one. */
function parsePercent(text) {
  const match = /^(\d{1,3})(?:\.(\d{1,3}))?%$/.exec(String(text).trim())
  if (!match) return null
  return Number(match[1]) * 1000 + Number((match[2] ?? '').padEnd(3, '0'))
}

/** `60000` as `1m`, `5400000` as `1h30m`: the largest units first. */
function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '?' // isFinite is false for a non-number too
  if (ms === 0) return '0s'
  if (ms < 1000) return `${Math.round(ms)}ms`
  let rest = Math.round(ms / 1000)
  const parts = []
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  return parts.slice(0, 2).join('')
}

/** `10000` as `10%`, `1500` as `1.5%`. */
function formatPercent(allocation) {
  if (!Number.isFinite(allocation)) return '?%' // isFinite is false for a non-number too
  return `${Number((allocation / 1000).toFixed(3))}%`
}

/**
 * `--steps 1%:10m,10%:30m,50%:1h` as `[{ allocation, durationMillis }]`: allocations in
 * thousandths of a percent, each above the one before, at most 100%.
 */
function parseSteps(text, command) {
  const bad = (message) => new UsageError(`--steps: ${message}`, command)
  const pieces = String(text).split(',')
  if (!String(text).trim()) throw bad('give at least one step as percent:duration, e.g. 1%:10m,10%:30m,50%:1h')
  let previous = 0
  return pieces.map((piece, i) => {
    const at = `step ${i + 1} ${JSON.stringify(piece.trim())}`
    const parts = piece.split(':')
    if (parts.length !== 2) throw bad(`${at} must be percent:duration, e.g. 10%:30m`)
    const allocation = parsePercent(parts[0])
    if (allocation === null) throw bad(`${at}: ${JSON.stringify(parts[0].trim())} is not a percentage such as 10% or 0.5% (at most three decimals)`)
    if (allocation < 1 || allocation > FULL) throw bad(`${at}: the percentage must be more than 0% and at most 100%`)
    if (allocation <= previous) throw bad(`${at}: each step must move more traffic than the one before (${formatPercent(previous)})`)
    const durationMillis = parseDuration(parts[1])
    if (durationMillis === null) throw bad(`${at}: ${JSON.stringify(parts[1].trim())} is not a duration such as 30s, 10m, 1h or 1h30m`)
    previous = allocation
    return { allocation, durationMillis }
  })
}

/** The clause operators LaunchDarkly documents for a release's rules. */
const OPS = ['in', 'endsWith', 'startsWith', 'matches', 'contains', 'lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual', 'before', 'after', 'semVerEqual', 'semVerLessThan', 'semVerGreaterThan']

/** A clause value as typed: numbers and booleans as such, anything else a string. */
function clauseValue(text) {
  if (text === 'true' || text === 'false') return text === 'true'
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text)
  return text
}

/**
 * One `--phase`: `everyone` (every context of the unit: no clause; the library adds the
 * unit's kind clause), `segment:KEY[,KEY]`, or clauses joined by `and`, each
 * `ATTRIBUTE [not] OP VALUE[,VALUE]` (`country in NZ,AU`, `email endsWith @example.com`).
 * Clauses apply to contexts of `unit`.
 */
function parseAudience(text, index, unit, command) {
  const at = `--phase ${index + 1} ${JSON.stringify(text)}`
  const source = String(text).trim()
  if (source === '' || source === 'everyone' || source === '*') return []
  // The source is trimmed, and the split takes the spaces around each `and`: no part
  // starts or ends with a space.
  return source.split(/\s+and\s+/).map((part) => {
    const segment = /^segments?:(.+)$/.exec(part)
    if (segment) {
      const keys = segment[1].split(',').map((k) => k.trim())
      if (keys.some((k) => !k)) throw new UsageError(`${at}: segment keys must not be empty`, command)
      return { attribute: 'segmentMatch', op: 'segmentMatch', values: keys }
    }
    const match = /^(\S+)\s+(?:(not)\s+)?(\S+)\s+(\S.*)$/.exec(part)
    if (!match) {
      throw new UsageError(`${at}: ${JSON.stringify(part)} is not a clause: write ATTRIBUTE OP VALUE[,VALUE] (e.g. country in NZ,AU), segment:KEY, or everyone`, command)
    }
    const [, attribute, not, op, values] = match
    if (!OPS.includes(op)) {
      const near = OPS.find((o) => o.toLowerCase() === op.toLowerCase())
      throw new UsageError(`${at}: unknown operator ${JSON.stringify(op)}${near ? ` (did you mean ${near}?)` : ''}; one of ${OPS.join(', ')}`, command)
    }
    const clause = { contextKind: unit, attribute, op, values: values.split(',').map((v) => clauseValue(v.trim())) }
    if (not) clause.negate = true
    return clause
  })
}

/** A duration option (`--interval 10s`) in milliseconds, from `min` to `max`. */
function durationOption(flag, text, min, max, command) {
  const ms = parseDuration(text)
  if (ms === null || ms < min || ms > max) {
    throw new UsageError(`${flag} must be a duration from ${formatDuration(min)} to ${formatDuration(max)} such as 10s or 1m, got ${JSON.stringify(text)}`, command)
  }
  return ms
}

module.exports = { FULL, parseSteps, parseDuration, parsePercent, parseAudience, durationOption, formatDuration, formatPercent }
