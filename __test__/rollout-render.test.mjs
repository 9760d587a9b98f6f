// The terminal drawing of environment releases and release policies
// (lib/cli/rollout-render.js), exactly, in this process.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { latestTime, nextStepAt, renderEnvironmentRelease, renderPolicies, renderReleaseList, stageChart, watchLine } = require('../lib/cli/rollout-render.js')

// The CLI's text function masks the token; here, a stand-in that shows it was used.
const text = (v) => String(v).replaceAll('SECRET', '****')
const T0 = Date.UTC(2026, 11, 1, 12, 0)
const M = 60000

/** A progressive release in its second phase, 23 minutes into a one-hour step. */
function running() {
  return {
    id: 'rel-1',
    flagKey: 'checkout',
    environmentKey: 'production',
    kind: 'progressive',
    status: 'in_progress',
    statusReason: null,
    originalVariationId: 'v0',
    targetVariationId: 'v1',
    randomizationUnit: 'user',
    advancementMode: 'automatic',
    createdAt: T0,
    currentPhaseIndex: 1,
    phases: [
      {
        ruleId: 'r1',
        status: 'completed',
        steps: [
          { allocation: 1000, durationMillis: 10 * M, startedAt: T0, endedAt: T0 + 10 * M },
          { allocation: 50000, durationMillis: 10 * M, startedAt: T0 + 10 * M, endedAt: T0 + 20 * M },
        ],
        metricStatuses: { errors: 'ok' },
      },
      {
        description: 'everyone else',
        status: 'in_progress',
        currentStepIndex: 1,
        steps: [
          { allocation: 10000, durationMillis: 30 * M, startedAt: T0 + 20 * M, endedAt: T0 + 50 * M },
          { allocation: 50000, durationMillis: 60 * M, startedAt: T0 + 50 * M },
          { allocation: 100000, durationMillis: 60 * M },
        ],
        metricStatuses: { errors: 'regressed', latency: 'ok' },
      },
      { status: 'pending', steps: [{ allocation: 100000, durationMillis: 60 * M }] },
    ],
    metrics: [{ metricKey: 'errors', autoRollback: true, definition: { name: 'Error rate' } }, { metricKey: 'latency' }, { metricKey: 'signups' }],
  }
}

const flag = {
  variations: [
    { _id: 'v0', value: false, name: 'Off' },
    { _id: 'v1', value: true, name: 'On' },
  ],
  environments: {
    production: {
      rules: [
        {
          _id: 'r1',
          clauses: [
            { attribute: 'kind', op: 'in', values: ['user'] },
            { attribute: 'country', op: 'in', values: ['NZ', 'AU'] },
            { attribute: 'segmentMatch', op: 'segmentMatch', values: ['beta'], negate: true },
            { attribute: 'age', op: 'greaterThan', values: [30], negate: true },
          ],
        },
      ],
    },
  },
}

test('a running release: variations named from the flag, audiences from its rules, each step, the metrics and the next step', () => {
  assert.equal(
    renderEnvironmentRelease(running(), { text, flag, now: T0 + 73 * M }),
    [
      'checkout in production · progressive release rel-1',
      '  Off (false) → On (true) · by user · automatic advance · created 2026-12-01 12:00 UTC',
      '  status: in_progress',
      '    phase 0 country in NZ,AU and not in segment bet…  [██] completed  1% → 50%',
      '  ▸ phase 1 everyone else                             [█▶·] in_progress  step 2/3: 50% · 37m left of 1h · next 100%',
      '    phase 2 the default rule                          [·] pending  100%',
      '  metrics: Error rate regressed (auto-rollback), latency ok, signups -',
      '  next step in 37m (2026-12-01 13:50 UTC)',
    ].join('\n'),
  )
})

test('in colour, each status, step and metric has its own', () => {
  const drawn = renderEnvironmentRelease(running(), { text, flag, now: T0 + 73 * M, color: true })
  const lines = drawn.split('\n')
  assert.equal(lines[0], '\x1b[1mcheckout in production\x1b[22m · progressive release rel-1')
  assert.equal(lines[2], '  status: \x1b[36min_progress\x1b[39m')
  assert.equal(lines[3], '    phase 0 country in NZ,AU and not in segment bet…  [\x1b[32m█\x1b[39m\x1b[32m█\x1b[39m] \x1b[32mcompleted\x1b[39m  1% → 50%')
  assert.equal(
    lines[4],
    '  \x1b[33m▸\x1b[39m phase 1 everyone else                             [\x1b[32m█\x1b[39m\x1b[33m▶\x1b[39m\x1b[2m·\x1b[22m] \x1b[36min_progress\x1b[39m  step 2/3: \x1b[1m50%\x1b[22m · 37m left of 1h · next 100%',
  )
  assert.equal(lines[5], '    phase 2 the default rule                          [\x1b[2m·\x1b[22m] \x1b[2mpending\x1b[22m  100%')
  assert.equal(lines[6], '  metrics: Error rate \x1b[31mregressed\x1b[39m (auto-rollback), latency \x1b[32mok\x1b[39m, signups \x1b[2m-\x1b[22m')
  assert.equal(drawn.replace(/\x1b\[\d+m/g, ''), renderEnvironmentRelease(running(), { text, flag, now: T0 + 73 * M }), 'the same text without colour')
})

test('a waiting release says why in words; a reverted step is crossed; the end is dated; no next step', () => {
  const release = running()
  Object.assign(release, { status: 'waiting', statusReason: 'waiting_regression_detected', endedAt: T0 + 90 * M })
  release.phases[1].status = 'waiting'
  release.phases[2] = { status: 'reverted', currentStepIndex: 0, statusReason: 'SECRET reason', steps: [{ allocation: 5000 }, { allocation: 6000 }] }
  assert.equal(
    renderEnvironmentRelease(release, { text, now: T0 + 73 * M }),
    [
      'checkout in production · progressive release rel-1',
      '  v0 → v1 · by user · automatic advance · created 2026-12-01 12:00 UTC',
      '  status: waiting (waiting_regression_detected: a metric regressed: the release waits for a person to dismiss it or stop the release)',
      '    phase 0 rule r1           [██] completed  1% → 50%',
      '  ▸ phase 1 everyone else     [█▶·] waiting  step 2/3: 50% · next 100%',
      '    phase 2 the default rule  [✗·] reverted (**** reason)  5% → 6%',
      '  metrics: Error rate regressed (auto-rollback), latency ok, signups -',
      '  ended 2026-12-01 13:30 UTC',
    ].join('\n'),
  )
})

test('a step past its time is due now; a finished release takes its metrics from its last phase that has some', () => {
  assert.match(renderEnvironmentRelease(running(), { text, now: T0 + 111 * M }), /step 2\/3: 50% · 1h, due now · next 100%\n[^]*\n {2}next step due now \(2026-12-01 13:50 UTC\)$/)
  const done = running()
  Object.assign(done, { status: 'completed', statusReason: 'completed_automatic', currentPhaseIndex: undefined })
  done.phases[2].metricStatuses = {}
  const drawn = renderEnvironmentRelease(done, { text, now: T0 + 73 * M })
  assert.match(drawn, /^ {2}status: completed \(completed_automatic: every phase completed\)$/m)
  assert.match(drawn, /^ {2}metrics: Error rate regressed \(auto-rollback\), latency ok, signups -$/m, 'phase 1 has the last statuses')
  assert.doesNotMatch(drawn, /▸|next step/)
  done.phases[1].metricStatuses = null
  assert.match(renderEnvironmentRelease(done, { text, now: T0 }), /^ {2}metrics: Error rate ok \(auto-rollback\), latency -, signups -$/m)
})

test('a sparse release is drawn with ? and defaults, never undefined; an unknown reason has no gloss', () => {
  const drawn = renderEnvironmentRelease({ id: 'r', flagKey: 'f', environmentKey: 'e', status: 'odd', statusReason: 'new_reason', phases: [{ steps: 'none' }, null] }, { text, now: T0 })
  assert.equal(
    drawn,
    ['f in e · release release r', '  ? → ? · by ? · ? advance', '  status: odd (new_reason)', '    phase 0 the default rule  [] ?', '    phase 1 the default rule  [] ?'].join('\n'),
  )
})

test('a phase with a rule and no clause but its kind reaches every context of the unit; a rule with a description says it', () => {
  const release = running()
  release.phases = [{ ruleId: 'all', status: 'pending', steps: [] }, { ruleId: 'told', status: 'pending', steps: [] }]
  const withRules = { ...flag, environments: { production: { rules: [{ _id: 'all', clauses: [{ attribute: 'kind', op: 'in', values: ['user'] }] }, { _id: 'told', description: 'SECRET staff', clauses: [] }] } } }
  const lines = renderEnvironmentRelease({ ...release, currentPhaseIndex: null, status: 'pending' }, { text, flag: withRules, now: T0 }).split('\n')
  assert.deepEqual(lines.slice(3), ['    phase 0 every user  [] pending', '    phase 1 **** staff  [] pending', '  metrics: Error rate - (auto-rollback), latency -, signups -'])
})

test('watchLine: the status, where the release stands, its metrics and the next step, on one line', () => {
  const line = watchLine(running(), { text, now: T0 + 73 * M })
  assert.match(line, /^\d{4}-\d\d-\d\d \d\d:\d\d · /, 'the time of this machine first')
  assert.equal(line.replace(/^[^·]+· /, ''), 'in_progress · phase 2/3 step 2/3 50% · errors regressed, latency ok · next step in 37m')
  const due = watchLine(running(), { text, now: T0 + 200 * M })
  assert.match(due, / · next step due now$/)
  const ended = watchLine({ status: 'completed', statusReason: 'completed_manual', phases: [] }, { text, now: T0 })
  assert.equal(ended.replace(/^[^·]+· /, ''), 'completed (completed_manual: stopped by rolling forward)')
  const bare = watchLine({ status: 'in_progress', currentPhaseIndex: 0, phases: [{}] }, { text, now: T0 })
  assert.equal(bare.replace(/^[^·]+· /, ''), 'in_progress · phase 1/1 step 0/0')
})

test('nextStepAt and latestTime read the current step and the newest time, and nothing else', () => {
  assert.equal(nextStepAt(running()), T0 + 110 * M)
  assert.equal(nextStepAt({ ...running(), status: 'waiting' }), null, 'only while in progress')
  assert.equal(nextStepAt({ ...running(), currentPhaseIndex: 2 }), null, 'a step not started has no end')
  assert.equal(nextStepAt({ ...running(), currentPhaseIndex: '1' }), null)
  assert.equal(nextStepAt({ ...running(), currentPhaseIndex: 5 }), null)
  assert.equal(latestTime(running()), T0 + 50 * M)
  assert.equal(latestTime({ createdAt: 5, startedAt: 9, endedAt: 7, phases: [{ startedAt: 8, endedAt: 'x', steps: [{ startedAt: Infinity, endedAt: 3 }] }] }), 9)
  assert.equal(latestTime({ phases: [{ endedAt: 4, steps: [{ endedAt: 6 }] }] }), 6)
  assert.equal(latestTime({}), 0)
})

test('renderReleaseList: one row per release, the current phase or how many are done', () => {
  const list = renderReleaseList(
    [running(), { id: 'rel-0', kind: 'guarded', status: 'completed', statusReason: 'completed_automatic', phases: [{ status: 'completed' }, { status: 'completed' }, { status: 'pending' }], createdAt: T0 - 86400000 }, { id: 'x' }],
    { text },
  )
  assert.equal(
    list,
    [
      'ID     KIND         STATUS       REASON               PHASES    CREATED',
      'rel-1  progressive  in_progress                       2/3       2026-12-01 12:00 UTC',
      'rel-0  guarded      completed    completed_automatic  2/3 done  2026-11-30 12:00 UTC',
      'x                                                     0/0 done',
    ].join('\n'),
  )
  assert.equal(renderReleaseList([], { text, color: true }), '\x1b[1mID  KIND  STATUS  REASON  PHASES  CREATED\x1b[22m')
})

test("stageChart: a block per stage by its share of traffic, then each stage's share and time", () => {
  assert.equal(stageChart([{ allocation: 1000, durationMillis: 3600000 }, { allocation: 50000, durationMillis: 5400000 }, { allocation: 100000, durationMillis: 60000 }]), '▁▄█ 1% 1h → 50% 1h30m → 100% 1m')
  assert.equal(stageChart([{ allocation: 12500 }, { allocation: 12501 }, { allocation: 87500 }, { allocation: 87501 }]), '▁▂▇█ 12.5% ? → 12.501% ? → 87.5% ? → 87.501% ?')
  assert.equal(stageChart([{ allocation: 0 }, {}, { allocation: 200000 }]), '▁▁█ 0% ? → ?% ? → 200% ?')
  assert.equal(stageChart([]), '(no stages)')
  assert.equal(stageChart(undefined), '(no stages)')
})

test('renderPolicies: scoped policies by rank, then the default; each with its stages and settings', () => {
  const policies = [
    { key: 'default', name: 'Default', releaseMethod: 'progressive-release', progressiveReleaseConfig: { stages: [{ allocation: 10000, durationMillis: 3600000 }] } },
    {
      key: 'prod',
      name: 'Prod',
      rank: 2,
      releaseMethod: 'guarded-release',
      scope: { environmentKeys: ['production', 'eu'], flagTagKeys: ['SECRET'] },
      guardedReleaseConfig: { rolloutContextKindKey: 'user', metricKeys: ['errors'], rollbackOnRegression: true, stages: [{ allocation: 50000, durationMillis: 60000 }] },
    },
    { key: 'tagged', rank: 1, scope: { flagTagKeys: ['beta'] }, guardedReleaseConfig: { rollbackOnRegression: false, metricKeys: [], stages: [] } },
    { key: 'empty', rank: 3, scope: {} },
  ]
  assert.equal(
    renderPolicies(policies, { text }),
    [
      '1. tagged  · ? · flags tagged beta',
      '   (no stages)',
      '2. prod Prod · guarded-release · environments production, eu; flags tagged ****',
      '   ▄ 50% 1m  (by user, metrics errors, rolls back on a regression)',
      '3. empty  · ? · scoped',
      '- default Default · progressive-release · default (every other flag)',
      '   ▁ 10% 1h',
    ].join('\n'),
  )
  assert.equal(renderPolicies([{ key: 'k', scope: { environmentKeys: ['e'] } }], { text, color: true }), '?. \x1b[1mk\x1b[22m  · ? · environments e')
  assert.equal(renderPolicies('none', { text }), '')
})

test('each status reason LaunchDarkly names is glossed in words; a reason that is not a string is not', () => {
  const glosses = {
    waiting_regression_detected: 'a metric regressed: the release waits for a person to dismiss it or stop the release',
    waiting_phase_ended: 'a phase ended: the release waits for a person to start the next one',
    completed_automatic: 'every phase completed',
    completed_manual: 'stopped by rolling forward',
    reverted_regression_detected: 'a metric regressed and the release was rolled back',
    reverted_manual: 'stopped by rolling back',
    reverted_discarded: 'ended without a regression or a person rolling it back (the flag changed, or the release ended first)',
    reverted_insufficient_data: 'rolled back: not enough data to judge the metrics',
  }
  for (const [reason, words] of Object.entries(glosses)) {
    const status = reason.replace(/_.*/, '')
    assert.equal(watchLine({ status, statusReason: reason }, { text, now: T0 }).replace(/^[^·]+· /, ''), `${status} (${reason}: ${words})`)
  }
  assert.equal(watchLine({ status: 'completed', statusReason: ['completed_manual'] }, { text, now: T0 }).replace(/^[^·]+· /, ''), 'completed (completed_manual)')
  assert.match(renderEnvironmentRelease({ phases: [] }, { text, now: T0 }), /^ {2}status: unknown$/m)
})

test('in colour, waiting is yellow, reverted red, other statuses bold, and a metric neither ok nor regressed yellow', () => {
  const release = running()
  Object.assign(release, { status: 'waiting', currentPhaseIndex: 1 })
  release.phases[1].status = 'odd'
  release.phases[2] = { status: 'reverted', currentStepIndex: 0, steps: [{ allocation: 5000 }] }
  release.phases[1].metricStatuses = { errors: 'inconclusive' }
  const lines = renderEnvironmentRelease(release, { text, now: T0, color: true }).split('\n')
  assert.equal(lines[2], '  status: \x1b[33mwaiting\x1b[39m')
  assert.match(lines[4], /\] \x1b\[1modd\x1b\[22m {2}/)
  assert.match(lines[5], /\[\x1b\[31m✗\x1b\[39m\] \x1b\[31mreverted\x1b\[39m {2}5%$/)
  assert.equal(lines[6], '  metrics: Error rate \x1b[33minconclusive\x1b[39m (auto-rollback), latency \x1b[2m-\x1b[22m, signups \x1b[2m-\x1b[22m')
  assert.equal(renderEnvironmentRelease({ status: 'odd', phases: [] }, { text, now: T0, color: true }).split('\n')[2], '  status: \x1b[1modd\x1b[22m')
})

test('variations: a value the release holds is shown without the flag; an id that is not a non-empty string is ?', () => {
  const first = (release) => renderEnvironmentRelease({ phases: [], ...release }, { text, now: T0 }).split('\n')[1]
  assert.equal(first({ originalVariationValue: 'blue', targetVariationValue: { on: true } }), '  "blue" → {"on":true} · by ? · ? advance')
  assert.equal(first({ originalVariationId: 5, targetVariationId: '' }), '  ? → ? · by ? · ? advance')
  assert.equal(first({ originalVariationId: 'v9', targetVariationValue: null }), '  v9 → null · by ? · ? advance')
})

test('audiences: clauses as written, every kind clause that is not a plain one shown, descriptions only when text', () => {
  // One phase per drawing: the column of audiences is cut at 40 characters.
  const audienceOf = (rule, phase = {}) =>
    renderEnvironmentRelease({ environmentKey: 'e', phases: [{ ruleId: 'r', ...phase }] }, { text, flag: { environments: { e: { rules: [{ _id: 'r', ...rule }] } } }, now: T0 })
      .split('\n')[3]
      .replace(/^ {4}phase 0 (.*?) +\[\] \?$/, '$1')
  assert.equal(audienceOf({ description: 5, clauses: [{ attribute: 'email', op: 'endsWith', values: ['@x.io'], negate: true }] }), 'email not endsWith @x.io')
  assert.equal(audienceOf({ clauses: [{ attribute: 'kind', op: 'startsWith', values: ['us'] }] }), 'kind startsWith us')
  assert.equal(audienceOf({ clauses: [{ attribute: 'kind', op: 'in', values: ['user'], negate: true }] }), 'kind not in user')
  assert.equal(audienceOf({ clauses: [{ attribute: 'segmentMatch', op: 'segmentMatch', values: ['beta', 'staff'] }] }), 'in segment beta,staff')
  assert.equal(audienceOf({ clauses: [{ attribute: 'plan', op: 'in', values: [{ tier: 1 }, 'pro'] }] }), 'plan in {"tier":1},pro')
  assert.equal(audienceOf({ clauses: [{ attribute: 'x', op: 'exists' }] }), 'x exists')
  assert.equal(audienceOf({ clauses: [] }), 'every context')
  assert.equal(audienceOf({ description: 'told' }, { description: '' }), 'told', 'an empty phase description is none')
  assert.equal(audienceOf({ description: 'told' }, { ruleId: 'gone' }), 'rule gone')
  assert.equal(renderEnvironmentRelease({ phases: [{ ruleId: 'r' }] }, { text, flag: { variations: [] }, now: T0 }).split('\n')[3], '    phase 0 rule r  [] ?', 'a flag read without environments')
})

test('steps: a pending phase with a current step has nothing done; a step not timed has no time left; the last step has no next', () => {
  const phaseLine = (phase, now = T0) => renderEnvironmentRelease({ phases: [phase] }, { text, now }).split('\n')[3].replace(/^ {4}phase 0 the default rule {2}/, '')
  const two = () => [{ allocation: 1000, durationMillis: 10 * M, startedAt: T0 }, { allocation: 5000, durationMillis: 20 * M }]
  assert.equal(phaseLine({ status: 'pending', currentStepIndex: 1, steps: two() }), '[··] pending  1% → 5%')
  assert.equal(phaseLine({ status: 'in_progress', currentStepIndex: 0, steps: two() }), '[▶·] in_progress  step 1/2: 1% · 10m left of 10m · next 5%')
  assert.equal(phaseLine({ status: 'in_progress', currentStepIndex: 0, steps: two() }, T0 + 10 * M), '[▶·] in_progress  step 1/2: 1% · 10m, due now · next 5%', 'due at the very end')
  assert.equal(phaseLine({ status: 'in_progress', currentStepIndex: 1, steps: two() }), '[█▶] in_progress  step 2/2: 5%', 'not started: no time left')
  assert.equal(phaseLine({ status: 'in_progress', currentStepIndex: 0, steps: [{ allocation: 1000, startedAt: T0 }] }), '[▶] in_progress  step 1/1: 1%', 'no duration: no time left')
})

test('the next step: due now at its very time; none while the current step is not timed', () => {
  const release = running()
  const at = T0 + 110 * M
  assert.match(renderEnvironmentRelease(release, { text, now: at }), /\n {2}next step due now \(2026-12-01 13:50 UTC\)$/)
  assert.match(watchLine(release, { text, now: at }), / · next step due now$/)
  release.phases[1].currentStepIndex = 2
  assert.equal(nextStepAt(release), null, 'a step not started')
  release.phases[1].currentStepIndex = 1
  delete release.phases[1].steps[1].durationMillis
  assert.equal(nextStepAt(release), null, 'a step without a duration')
})

test("without `now`, time left is counted from the newest time the release holds when the server's clock runs ahead", () => {
  const ahead = Date.now() + 10 * 3600000
  const release = { status: 'in_progress', currentPhaseIndex: 0, phases: [{ status: 'in_progress', currentStepIndex: 0, steps: [{ allocation: 1000, durationMillis: 60 * M, startedAt: ahead }] }] }
  assert.match(renderEnvironmentRelease(release, { text }), / · 1h left of 1h\n {2}next step in 1h /)
  assert.match(watchLine(release, { text }), / · next step in 1h$/)
})

test('lists and policies: several tags and metrics are listed with commas', () => {
  const drawn = renderPolicies([{ key: 'p', rank: 1, scope: { flagTagKeys: ['a', 'b'] }, guardedReleaseConfig: { metricKeys: ['m1', 'm2'], stages: [] } }], { text })
  assert.equal(drawn, '1. p  · ? · flags tagged a, b\n   (no stages)  (metrics m1, m2)')
})
