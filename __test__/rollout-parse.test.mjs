// The words of `ld-release rollout start` turned into what the library takes
// (lib/cli/rollout-parse.js), in this process: durations, percentages, steps and
// phase audiences, and each error naming the piece that is wrong.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { FULL, parseSteps, parseDuration, parsePercent, parseAudience, durationOption, formatDuration, formatPercent } = require('../lib/cli/rollout-parse.js')
const { UsageError } = require('../lib/cli/args.js')

/** Asserts that `fn` throws a UsageError for `command` whose message is `message`. */
function refuses(fn, message, command) {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof UsageError, `a UsageError, got ${error}`)
    assert.equal(error.message, message)
    assert.equal(error.command, command)
    return true
  })
}

test('parseDuration reads whole numbers with units, largest or not, and nothing else', () => {
  const cases = {
    '30s': 30000,
    '10m': 600000,
    '1h30m': 5400000,
    '1d': 86400000,
    '500ms': 500,
    '1ms': 1,
    '1m1s': 61000,
    ' 2m ': 120000,
    '0s1ms': 1,
    '9007199254740991ms': Number.MAX_SAFE_INTEGER,
  }
  for (const [text, ms] of Object.entries(cases)) assert.equal(parseDuration(text), ms, text)
  for (const text of ['', '0s', '0ms', '10', 'm', '1x', '1.5h', '1h 30m', '1H', 'abc10m', '10mabc', '-1s', '9007199254740992ms']) {
    assert.equal(parseDuration(text), null, JSON.stringify(text))
  }
  assert.equal(parseDuration(5), null, 'a bare number has no unit')
})

test('parsePercent reads up to three decimals, in thousandths of a percent', () => {
  const cases = { '1%': 1000, '0.5%': 500, '12.345%': 12345, '100%': 100000, '0.05%': 50, '0.001%': 1, ' 5% ': 5000, '999%': 999000 }
  for (const [text, value] of Object.entries(cases)) assert.equal(parsePercent(text), value, text)
  for (const text of ['', '1', '1.2345%', '1000%', '.5%', '5.%', '-1%', '5 %', 'x%', '5%%']) assert.equal(parsePercent(text), null, JSON.stringify(text))
  assert.equal(FULL, 100000)
})

test('formatDuration shows the two largest units, and ? for what is no duration', () => {
  const cases = [
    [60000, '1m'],
    [5400000, '1h30m'],
    [90000, '1m30s'],
    [3600000, '1h'],
    [86400000, '1d'],
    [90061000, '1d1h'],
    [0, '0s'],
    [999, '999ms'],
    [1, '1ms'],
    [0.4, '0ms'],
    [1000, '1s'],
    [1499, '1s'],
    [1500, '2s'],
    [59999, '1m'],
  ]
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms))
  for (const value of [-1, Number.NaN, Infinity, '60000', null, undefined]) assert.equal(formatDuration(value), '?', String(value))
})

test('formatPercent shows thousandths of a percent as a percentage, and ?% for what is none', () => {
  const cases = [
    [10000, '10%'],
    [1500, '1.5%'],
    [1, '0.001%'],
    [100000, '100%'],
    [12345, '12.345%'],
    [0, '0%'],
  ]
  for (const [value, text] of cases) assert.equal(formatPercent(value), text, String(value))
  for (const value of [Number.NaN, Infinity, '5', null]) assert.equal(formatPercent(value), '?%', String(value))
})

test('parseSteps turns percent:duration pieces into allocations and durations', () => {
  assert.deepEqual(parseSteps('1%:10m,10%:30m,50%:1h', 'rollout start'), [
    { allocation: 1000, durationMillis: 600000 },
    { allocation: 10000, durationMillis: 1800000 },
    { allocation: 50000, durationMillis: 3600000 },
  ])
  assert.deepEqual(parseSteps(' 0.001%:1ms , 100%:1d ', 'rollout start'), [
    { allocation: 1, durationMillis: 1 },
    { allocation: 100000, durationMillis: 86400000 },
  ])
})

test('parseSteps names the step that is wrong and why', () => {
  const c = 'rollout start'
  refuses(() => parseSteps('', c), '--steps: give at least one step as percent:duration, e.g. 1%:10m,10%:30m,50%:1h', c)
  refuses(() => parseSteps('  ', c), '--steps: give at least one step as percent:duration, e.g. 1%:10m,10%:30m,50%:1h', c)
  refuses(() => parseSteps('10%', c), '--steps: step 1 "10%" must be percent:duration, e.g. 10%:30m', c)
  refuses(() => parseSteps('1%:1m,10%:1m:2m', c), '--steps: step 2 "10%:1m:2m" must be percent:duration, e.g. 10%:30m', c)
  refuses(() => parseSteps('x:1m', c), '--steps: step 1 "x:1m": "x" is not a percentage such as 10% or 0.5% (at most three decimals)', c)
  refuses(() => parseSteps('1%:1m, x :2m', c), '--steps: step 2 "x :2m": "x" is not a percentage such as 10% or 0.5% (at most three decimals)', c)
  refuses(() => parseSteps('0%:1m', c), '--steps: step 1 "0%:1m": the percentage must be more than 0% and at most 100%', c)
  refuses(() => parseSteps('100.001%:1m', c), '--steps: step 1 "100.001%:1m": the percentage must be more than 0% and at most 100%', c)
  refuses(() => parseSteps('10%:1m,10%:2m', c), '--steps: step 2 "10%:2m": each step must move more traffic than the one before (10%)', c)
  refuses(() => parseSteps('10.5%:1m,5%:2m', c), '--steps: step 2 "5%:2m": each step must move more traffic than the one before (10.5%)', c)
  refuses(() => parseSteps('10%: soon ', c), '--steps: step 1 "10%: soon": "soon" is not a duration such as 30s, 10m, 1h or 1h30m', c)
})

test('parseAudience: everyone, segments, and clauses joined by and', () => {
  for (const text of ['', '  ', 'everyone', ' everyone ', '*']) assert.deepEqual(parseAudience(text, 0, 'user', 'rollout start'), [], JSON.stringify(text))
  assert.deepEqual(parseAudience('segment:beta, staff', 0, 'user', 'c'), [{ attribute: 'segmentMatch', op: 'segmentMatch', values: ['beta', 'staff'] }])
  assert.deepEqual(parseAudience('segments:beta', 0, 'user', 'c'), [{ attribute: 'segmentMatch', op: 'segmentMatch', values: ['beta'] }])
  assert.deepEqual(parseAudience('country in NZ, AU', 0, 'user', 'c'), [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['NZ', 'AU'] }])
  assert.deepEqual(parseAudience('age  not  greaterThan  30', 1, 'org', 'c'), [{ contextKind: 'org', attribute: 'age', op: 'greaterThan', values: [30], negate: true }])
  assert.deepEqual(parseAudience('beta in true,false', 0, 'user', 'c'), [{ contextKind: 'user', attribute: 'beta', op: 'in', values: [true, false] }])
  assert.deepEqual(parseAudience('score in -1.5,007,1.2.3,1e3,1.25,1.,.5', 0, 'user', 'c'), [{ contextKind: 'user', attribute: 'score', op: 'in', values: [-1.5, 7, '1.2.3', '1e3', 1.25, '1.', '.5'] }])
  assert.deepEqual(parseAudience('email endsWith @example.com  and  segment:staff and\tplan in pro', 0, 'user', 'c'), [
    { contextKind: 'user', attribute: 'email', op: 'endsWith', values: ['@example.com'] },
    { attribute: 'segmentMatch', op: 'segmentMatch', values: ['staff'] },
    { contextKind: 'user', attribute: 'plan', op: 'in', values: ['pro'] },
  ])
})

test('parseAudience names the phase and the piece that is wrong', () => {
  const c = 'rollout start'
  refuses(() => parseAudience('segment:a,,b', 0, 'user', c), '--phase 1 "segment:a,,b": segment keys must not be empty', c)
  /** Asserts that phase `index` given as `text` is refused, naming `part` as no clause. */
  const notAClause = (text, index, part) =>
    refuses(() => parseAudience(text, index, 'user', c), `--phase ${index + 1} ${JSON.stringify(text)}: ${JSON.stringify(part)} is not a clause: write ATTRIBUTE OP VALUE[,VALUE] (e.g. country in NZ,AU), segment:KEY, or everyone`, c)
  notAClause('country NZ', 1, 'country NZ')
  // `and` between spaces always joins clauses: it cannot be part of a value.
  notAClause('name contains x and y', 0, 'y')
  // Values end the line: one on the next is refused, not dropped.
  assert.throws(() => parseAudience('country in NZ\nAU', 0, 'user', c), UsageError)
  notAClause('country NZ  and  plan in pro', 0, 'country NZ')
  // A segment is `segment:` (or `segments:`) at the start, keys to the end of the line.
  notAClause('my-segment:a', 0, 'my-segment:a')
  assert.throws(() => parseAudience('segment:a\nb', 0, 'user', c), UsageError, 'a key on a second line is not dropped')
  const ops = 'in, endsWith, startsWith, matches, contains, lessThan, lessThanOrEqual, greaterThan, greaterThanOrEqual, before, after, semVerEqual, semVerLessThan, semVerGreaterThan'
  refuses(() => parseAudience('country IN NZ', 0, 'user', c), `--phase 1 "country IN NZ": unknown operator "IN" (did you mean in?); one of ${ops}`, c)
  refuses(() => parseAudience('v semverequal 1.0.0', 0, 'user', c), `--phase 1 "v semverequal 1.0.0": unknown operator "semverequal" (did you mean semVerEqual?); one of ${ops}`, c)
  refuses(() => parseAudience('country frob NZ', 2, 'user', c), `--phase 3 "country frob NZ": unknown operator "frob"; one of ${ops}`, c)
})

test('durationOption takes a duration within its bounds, bounds included, and names the flag otherwise', () => {
  const c = 'rollout watch'
  assert.equal(durationOption('--interval', '10s', 1000, 60000, c), 10000)
  assert.equal(durationOption('--interval', '1s', 1000, 60000, c), 1000)
  assert.equal(durationOption('--interval', '1m', 1000, 60000, c), 60000)
  for (const text of ['999ms', '1m1s', 'soon', '']) {
    refuses(() => durationOption('--interval', text, 1000, 60000, c), `--interval must be a duration from 1s to 1m such as 10s or 1m, got ${JSON.stringify(text)}`, c)
  }
})
