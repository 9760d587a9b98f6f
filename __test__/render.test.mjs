// The terminal drawing of a release, exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { recordedNew, recordedStarted } from './fixtures/recorded.mjs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { isFinished, phaseStates, renderRelease, renderPreview, formatTime, statusWord, wantsColor } = require('../lib/cli/render.js')

const HOUR = 3600000
const T0 = Date.UTC(2026, 10, 28, 6, 0) // 2026-11-28 06:00 UTC

function audience(id, key, name) {
  return { _id: id, name, environment: { _links: {}, key, name, color: '417505' }, configuration: { releaseStrategy: 'immediate-rollout', requireApproval: false } }
}

function phase(index, name, fields) {
  return { _id: `phase-${index}`, _name: name, complete: false, _creationDate: T0 - 24 * HOUR, _audiences: [], status: 'NotStarted', started: false, ...fields }
}

/** A four-phase release: done by a member, done by a token, in progress, waiting. */
function known() {
  return {
    name: 'Checkout rollout',
    releasePipelineKey: 'checkout-rollout',
    releasePipelineDescription: '',
    _version: 7,
    phases: [
      phase(0, 'Dev', {
        complete: true,
        status: 'Complete',
        started: true,
        _startedDate: T0,
        _completionDate: T0 + HOUR,
        _completedBy: { member: { _links: {}, _id: 'm1', role: 'writer', email: 'ada@example.com' } },
        _audiences: [audience('a0', 'dev', 'Development')],
      }),
      phase(1, 'QA', {
        complete: true,
        status: 'Complete',
        started: true,
        _startedDate: T0 + HOUR,
        _completionDate: T0 + 2 * HOUR + 30 * 60000,
        _completedBy: { token: { name: 'deploy bot', ending: 'f00d' } },
        _audiences: [audience('a1', 'qa', 'QA'), audience('a2', 'qa-eu', 'QA (EU)')],
      }),
      phase(2, 'Canary', { status: 'Started', started: true, _startedDate: T0 + 3 * HOUR, _audiences: [audience('a3', 'production', 'Production')] }),
      phase(3, 'Everyone', { _audiences: [audience('a4', 'production', 'Production'), { _id: 'a5', name: 'Legacy' }] }),
    ],
  }
}

test('the plain drawing of a known release', () => {
  assert.equal(
    renderRelease(known()),
    [
      'Checkout rollout (checkout-rollout) · version 7',
      '  0 ✓ Dev       started 2026-11-28 06:00 UTC · completed 2026-11-28 07:00 UTC by ada@example.com · dev',
      '  1 ✓ QA        started 2026-11-28 07:00 UTC · completed 2026-11-28 08:30 UTC by deploy bot · qa, qa-eu',
      '  2 ● Canary    started 2026-11-28 09:00 UTC · production',
      '  3 ○ Everyone  waiting · production, Legacy',
    ].join('\n'),
  )
})

test('who completed a phase: member email, else token name, else token ending', () => {
  const release = known()
  release.phases[0]._completedBy = { token: { ending: 'abcd' } }
  assert.match(renderRelease(release).split('\n')[1], /completed 2026-11-28 07:00 UTC by token …abcd · dev$/)
  delete release.phases[0]._completedBy
  assert.match(renderRelease(release).split('\n')[1], /completed 2026-11-28 07:00 UTC · dev$/)
})

test('in progress: started, or the first incomplete phase after completed ones', () => {
  const release = known()
  Object.assign(release.phases[2], { started: false, status: 'NotStarted', _startedDate: undefined })
  const lines = renderRelease(release).split('\n')
  assert.match(lines[3], /^ {2}2 ● Canary {4}production$/)
  assert.match(lines[4], /^ {2}3 ○ Everyone/)
  release.phases[3].status = 'Started'
  assert.match(renderRelease(release).split('\n')[4], /^ {2}3 ● Everyone {2}production, Legacy$/)
  // Nothing done yet: the first phase is the one in progress.
  for (const p of release.phases) Object.assign(p, { complete: false, started: false, status: 'NotStarted', _startedDate: undefined, _completionDate: undefined })
  assert.deepEqual(
    renderRelease(release)
      .split('\n')
      .slice(1)
      .map((l) => l.slice(2, 5)),
    ['0 ●', '1 ○', '2 ○', '3 ○'],
  )
})

test('a paused phase and a canceled release say so', () => {
  const release = known()
  release.phases[2].status = 'Paused'
  release._canceledAt = T0 + 5 * HOUR
  const lines = renderRelease(release).split('\n')
  assert.equal(lines[3], '  2 ● Canary    started 2026-11-28 09:00 UTC · paused · production')
  assert.equal(lines.at(-1), '  canceled 2026-11-28 11:00 UTC')
})

test('times are UTC to the minute', () => {
  assert.equal(formatTime(Date.UTC(2026, 0, 2, 3, 4, 59, 999)), '2026-01-02 03:04 UTC')
  assert.equal(formatTime(undefined), '')
})

test('colour only when asked, and the same text underneath', () => {
  const plain = renderRelease(known())
  const colored = renderRelease(known(), { color: true })
  assert.doesNotMatch(plain, /\x1b\[/)
  assert.match(colored, /\x1b\[32m✓\x1b\[39m/)
  assert.match(colored, /\x1b\[33m●\x1b\[39m/)
  assert.equal(colored.replace(/\x1b\[\d+m/g, ''), plain)
})

test('colour follows the TTY, NO_COLOR and FORCE_COLOR', () => {
  assert.equal(wantsColor({ isTTY: true }, {}), true)
  assert.equal(wantsColor({ isTTY: false }, {}), false)
  assert.equal(wantsColor(undefined, {}), false)
  assert.equal(wantsColor({ isTTY: true }, { NO_COLOR: '1' }), false)
  assert.equal(wantsColor({ isTTY: true }, { NO_COLOR: '' }), true)
  assert.equal(wantsColor({ isTTY: false }, { FORCE_COLOR: '1' }), true)
  assert.equal(wantsColor({ isTTY: false }, { FORCE_COLOR: '' }), true)
  assert.equal(wantsColor({ isTTY: true }, { FORCE_COLOR: '0' }), false)
  assert.equal(wantsColor({ isTTY: true }, { FORCE_COLOR: 'false' }), false)
  assert.equal(wantsColor({ isTTY: true }, { NO_COLOR: '1', FORCE_COLOR: '1' }), false)
  assert.equal(wantsColor({ isTTY: true }, { TERM: 'dumb' }), false, 'a dumb terminal reads no escape sequence')
  assert.equal(wantsColor({ isTTY: true }, { TERM: 'xterm-256color' }), true)
  assert.equal(wantsColor({ isTTY: true }, { TERM: 'dumb', FORCE_COLOR: '1' }), true, 'FORCE_COLOR still forces')
})

test('a request preview reads as the request would go out', () => {
  const preview = {
    method: 'PATCH',
    url: 'https://app.launchdarkly.com/api/v2/flags/web/checkout/release',
    headers: { Accept: 'application/json', Authorization: '****abcd' },
    body: '[]',
  }
  assert.equal(renderPreview(preview), 'PATCH https://app.launchdarkly.com/api/v2/flags/web/checkout/release\nAccept: application/json\nAuthorization: ****abcd\n\n[]')
  assert.equal(renderPreview({ ...preview, method: 'GET', body: undefined }).split('\n').length, 3)
})

// Releases as LaunchDarkly answers them (see launchdarkly-api-notes.md, "What real
// answers look like"): unstarted phases sparse, kebab-case statuses, environments
// without `_links`, and some answers without `_version` or `releasePipelineDescription`.

test('a new release as LaunchDarkly answers it: sparse phases, the first ready to start', () => {
  assert.equal(
    renderRelease(recordedNew()),
    ['Two-step (two-step) · version 0', '  0 ○ QA    ready-to-start', '  1 ○ Beta  waiting', '  2 ○ GA    waiting'].join('\n'),
  )
  // Without `_version` and the description, as some answers come: no "version undefined".
  const sparse = recordedNew()
  delete sparse._version
  delete sparse.releasePipelineDescription
  assert.equal(renderRelease(sparse).split('\n')[0], 'Two-step (two-step)')
  assert.doesNotMatch(renderRelease(sparse), /undefined|null|NaN/)
})

test('a started release of a new pipeline: completed, active and not-started phases in their own words', () => {
  assert.equal(
    renderRelease(recordedStarted(1), { newPipeline: true }),
    [
      'Two-step (two-step)',
      '  0 ✓ QA    started 2025-12-18 19:08 UTC · completed 2025-12-18 20:08 UTC · dev',
      '  1 ● Beta  started 2025-12-18 20:08 UTC · beta',
      '  2 ○ GA    waiting',
    ].join('\n'),
  )
})

test('a new pipeline whose last phase is active is finished; an active last phase elsewhere is not', () => {
  const finished = recordedStarted(2)
  const expected = [
    'Two-step (two-step)',
    '  0 ✓ QA    started 2025-12-18 19:08 UTC · completed 2025-12-18 20:08 UTC · dev',
    '  1 ✓ Beta  started 2025-12-18 20:08 UTC · completed 2025-12-18 21:08 UTC · beta',
    '  2 ✓ GA    started 2025-12-18 21:08 UTC · production',
    '  finished 2025-12-18 21:08 UTC: its last phase is active',
  ]
  assert.equal(renderRelease(finished, { newPipeline: true }), expected.join('\n'))
  assert.equal(isFinished(finished, true), true)
  // Not known to be of a new pipeline (a legacy one, or one that could not be read): in progress.
  assert.equal(renderRelease(finished), [...expected.slice(0, 3), '  2 ● GA    started 2025-12-18 21:08 UTC · production'].join('\n'))
  assert.equal(isFinished(finished, false), false)
  // The document's `Started` is not a new pipeline's word; an unstarted or completed last phase is not finished.
  assert.equal(isFinished({ ...finished, phases: [...finished.phases.slice(0, 2), { ...finished.phases[2], status: 'Started' }] }, true), false)
  assert.equal(isFinished(recordedStarted(1), true), false)
  assert.equal(isFinished({ ...finished, phases: [...finished.phases.slice(0, 2), { ...finished.phases[2], complete: true, status: 'completed' }] }, true), false)
  assert.equal(isFinished({ ...finished, phases: [] }, true), false)
  // Without a status, `started` says it.
  const { status, ...noStatus } = finished.phases[2]
  assert.equal(status, 'active')
  assert.equal(isFinished({ ...finished, phases: [...finished.phases.slice(0, 2), noStatus] }, true), true)
  // Colour changes nothing underneath.
  assert.equal(renderRelease(finished, { newPipeline: true, color: true }).replace(/\x1b\[\d+m/g, ''), expected.join('\n'))
})

test("the document's status words read as the service's", () => {
  const release = recordedNew()
  const set = (i, fields) => Object.assign(release.phases[i], fields)
  set(0, { status: 'Complete' })
  set(1, { status: 'ReadyToStart' })
  set(2, { status: 'NotStarted' })
  assert.equal(statusWord('ReadyToStart'), 'ready-to-start')
  assert.equal(statusWord('Started'), 'active')
  assert.equal(statusWord(undefined), undefined)
  assert.deepEqual(phaseStates(release), ['done', 'waiting', 'waiting'])
  assert.match(renderRelease(release).split('\n')[2], /^ {2}1 ○ Beta {2}ready-to-start$/)
  // `paused` (either spelling) is in progress and says so.
  for (const paused of ['Paused', 'paused']) {
    set(1, { status: paused, started: true })
    assert.equal(renderRelease(release).split('\n')[2], '  1 ● Beta  paused')
  }
})

test('a status this package does not know is shown as sent; a phase without one follows its neighbours', () => {
  const release = recordedNew()
  release.phases[0] = { ...release.phases[0], status: 'awaiting-approval', started: false }
  release.phases[1] = { ...release.phases[1], status: 'rolling-back', started: true }
  delete release.phases[2].status
  delete release.phases[2].started
  assert.equal(
    renderRelease(release),
    ['Two-step (two-step) · version 0', '  0 ● QA    awaiting-approval', '  1 ● Beta  rolling-back', '  2 ○ GA    waiting'].join('\n'),
  )
})

test('what an answer lacks is left out of the drawing, never printed as undefined', () => {
  assert.equal(renderRelease({ releasePipelineKey: 'two-step' }), 'two-step')
  assert.equal(renderRelease({ name: 'Two-step', phases: 'none' }), 'Two-step')
  // A phase that is not an object keeps its place: the indexes are those `complete` takes.
  assert.equal(
    renderRelease({ phases: [{ complete: true }, null, { _name: 'B', _audiences: [{ environment: {} }, null] }] }),
    ['Release', '  0 ✓    completed', '  1 ●', '  2 ○ B  waiting'].join('\n'),
  )
})

const { pipelineKindWord, pipelinePhases, progressBar, renderPipelineChart, renderPipelineTable } = require('../lib/cli/render.js')

test('the kind of a pipeline and its phases, as the library reads them', () => {
  assert.equal(pipelineKindWord({ _isLegacy: false }), 'new')
  assert.equal(pipelineKindWord({ _isLegacy: true }), 'legacy')
  assert.equal(pipelineKindWord({ _isLegacy: 'false' }), 'legacy')
  assert.equal(pipelineKindWord({}), 'legacy')
  assert.equal(pipelineKindWord(undefined), 'legacy')
  assert.deepEqual(pipelinePhases({ phases: [{ name: 'A' }, null, 'B', 3] }), [{ name: 'A' }, {}, {}, {}])
  assert.deepEqual(pipelinePhases({ phases: 'A' }), [])
  assert.deepEqual(pipelinePhases(null), [])
})

test('the table of release pipelines: aligned columns, control characters shown, odd entries kept', () => {
  const pipelines = [
    { key: 'std', name: 'Standard', phases: [{ name: 'QA' }, { name: 'Prod' }], _isLegacy: true, isProjectDefault: true },
    { key: 'prog-rollout', name: 'Progressive\x1b[31m', phases: [{ name: 'A' }, null, { name: 'C' }], _isLegacy: false, isProjectDefault: 'yes' },
    null,
    { key: 'k', phases: 'x' },
  ]
  assert.equal(
    renderPipelineTable(pipelines),
    [
      'KEY           NAME                   KIND    PHASES     DEFAULT',
      'std           Standard               legacy  QA → Prod  yes',
      'prog-rollout  Progressive\\u{1b}[31m  new     A →  → C',
      '                                     legacy',
      'k                                    legacy',
    ].join('\n'),
  )
  assert.equal(renderPipelineTable(pipelines.slice(0, 1), { color: true }), '\x1b[1mKEY  NAME      KIND    PHASES     DEFAULT\x1b[22m\nstd  Standard  legacy  QA → Prod  yes')
  assert.equal(renderPipelineTable([]), 'KEY  NAME  KIND  PHASES  DEFAULT')
})

test('the chart of a pipeline: a bar per phase scaled to the largest, the finished, and the last phase of a new pipeline', () => {
  const counts = { total: 6, finished: 1, elsewhere: 0, phases: [{ index: 0, name: 'QA', flags: 4 }, { index: 1, name: 'Beta', flags: 0 }, { index: 10, name: 'GA', flags: 1 }] }
  assert.equal(
    renderPipelineChart({ key: 'two', name: 'Two step', _isLegacy: false }, counts, { width: 8 }),
    [
      'Two step (two) · new pipeline · 6 flags',
      '   0 QA        ████████  4',
      '   1 Beta                0',
      '  10 GA        ██        1',
      '     finished  ██        1',
      '  1 flag at GA, the last phase of a new pipeline: its release is finished',
    ].join('\n'),
  )
  const two = { ...counts, elsewhere: 2, phases: counts.phases.map((p) => ({ ...p, flags: p.index === 10 ? 2 : p.flags })) }
  assert.equal(
    renderPipelineChart({ key: 'two', _isLegacy: true }, two, { width: 8, color: true }),
    [
      '\x1b[1mtwo\x1b[22m · legacy pipeline · 6 flags',
      '   0 QA                              \x1b[36m████████\x1b[39m  4',
      '   1 Beta                            \x1b[36m\x1b[39m          0',
      '  10 GA                              \x1b[36m████\x1b[39m      2',
      '     finished                        \x1b[32m██\x1b[39m        1',
      '     at a phase not in the pipeline  \x1b[33m████\x1b[39m      2',
    ].join('\n'),
  )
  assert.match(renderPipelineChart({ key: 'two', name: 'two', _isLegacy: false }, two, { width: 8 }), /^two · new pipeline · 6 flags\n[^]*\n {2}2 flags at GA, the last phase of a new pipeline: their releases are finished$/)
  assert.equal(
    renderPipelineChart(null, { total: 1, finished: 0, elsewhere: 0, phases: [{ index: 0, name: 'Only', flags: 1 }] }, { width: 4 }),
    'Release pipeline · legacy pipeline · 1 flag\n  0 Only      ████  1\n    finished        0',
  )
  // A new pipeline with no flag at its last phase says nothing more; the default width is 24.
  const none = renderPipelineChart({ key: 'k', _isLegacy: false }, { total: 1, finished: 0, elsewhere: 0, phases: [{ index: 0, name: 'A', flags: 1 }, { index: 1, name: 'B', flags: 0 }] })
  assert.equal(none, `k · new pipeline · 1 flag\n  0 A         ${'█'.repeat(24)}  1\n  1 B         ${' '.repeat(24)}  0\n    finished  ${' '.repeat(24)}  0`)
})

test('the progress bar is drawn in place, only when it changes, and ends with a newline once drawn', () => {
  const out = []
  const bar = progressBar({ write: (s) => out.push(s) }, 10)
  bar.done()
  assert.deepEqual(out, [], 'nothing drawn, nothing to end')
  bar.update(0, 3)
  bar.update(1, 3)
  bar.update(1, 3)
  bar.update(3, 3)
  bar.update(0, 0)
  bar.done()
  assert.deepEqual(out, ['\r[----------] 0/3', '\r[###-------] 1/3', '\r[##########] 3/3', '\r[----------] 0/0', '\n'])
  const wide = []
  const bar30 = progressBar({ write: (s) => wide.push(s) })
  bar30.update(1, 2)
  assert.deepEqual(wide, [`\r[${'#'.repeat(15)}${'-'.repeat(15)}] 1/2`])
})

test('a release drawn from sparse and odd answers: who completed, statuses, environments, heading', () => {
  const release = {
    name: '',
    releasePipelineKey: 'k',
    _version: '3',
    phases: [
      { _name: 'A', complete: true, _completedBy: {} },
      { _name: 'B', complete: true, _completedBy: { member: {} } },
      { _name: 'C', complete: true, _completedBy: { token: { name: 'ci' } } },
      { _name: 'D', complete: true, _completedBy: { token: { ending: 'ab12' } }, _completionDate: NaN },
      { _name: 'E', complete: true, _completedBy: { token: {} }, _audiences: [{ environment: { key: '' } }, { environment: { key: 'prod' } }, { name: 'qa' }] },
      { _name: 'F', status: 'not-started' },
      { _name: 'G', status: 'Paused' },
      { _name: 'H', started: true, status: 'ready-to-start' },
      { _name: 'I', started: true, status: 'weird' },
      { _name: 'J', started: true },
      { _name: 'K', status: null, started: true },
    ],
  }
  assert.equal(
    renderRelease(release),
    [
      'k · version 3',
      '   0 ✓ A  completed',
      '   1 ✓ B  completed',
      '   2 ✓ C  completed by ci',
      '   3 ✓ D  completed by token …ab12',
      '   4 ✓ E  completed · prod, qa',
      '   5 ○ F  waiting',
      '   6 ● G  paused',
      '   7 ● H',
      '   8 ● I  weird',
      '   9 ● J',
      '  10 ● K',
    ].join('\n'),
  )
  // Ten phases: indexes 0 to 9 take one column.
  assert.match(renderRelease({ phases: release.phases.slice(0, 10) }), /^Release\n {2}0 ✓ A {2}completed\n/)
  assert.equal(
    renderRelease({ name: 'N', releasePipelineKey: 'N', _version: '', phases: [{ _name: 'W', status: 'not-started' }] }, { color: true }),
    '\x1b[1mN\x1b[22m\n  0 \x1b[2m○\x1b[22m \x1b[2mW\x1b[22m  waiting',
  )
  // Only waiting phases are dimmed; an active phase without a status shows its environments alone.
  assert.equal(
    renderRelease({ name: 'N', phases: [{ _name: 'D', complete: true }, { _name: 'J', started: true, _audiences: [{ environment: { key: 'prod' } }] }] }, { color: true }),
    '\x1b[1mN\x1b[22m\n  0 \x1b[32m✓\x1b[39m D  completed\n  1 \x1b[33m●\x1b[39m J  \x1b[36mprod\x1b[39m',
  )
  assert.equal(renderRelease({ name: 'N', phases: [{ _name: 'J', started: true, _audiences: [{ environment: { key: 'prod' } }] }] }), 'N\n  0 ● J  prod')
  assert.equal(renderRelease({ name: '', releasePipelineKey: '', phases: [{ _name: 'L', status: null, started: true }] }, { newPipeline: true }), 'Release\n  0 ✓ L\n  finished: its last phase is active')
  assert.equal(isFinished({ phases: [{ complete: true, status: 'active' }] }, true), false)
  assert.equal(isFinished({ phases: [{ status: null, started: true }] }, true), true)
  assert.equal(isFinished({ phases: [{ started: false }] }, true), false)
  assert.equal(formatTime(NaN), '')
  assert.equal(statusWord(null), undefined)
  assert.equal(statusWord(''), undefined)
  assert.equal(renderPreview({ method: 'GET', url: 'u', headers: { a: 'b' }, body: null }), 'GET u\na: b')
})

test('the chart of a pipeline with no phase, and counts of different widths', () => {
  assert.equal(renderPipelineChart({ _isLegacy: false }, { total: 0, finished: 0, elsewhere: 0, phases: [] }, { width: 2 }), 'Release pipeline · new pipeline · 0 flags\n   finished      0')
  assert.equal(renderPipelineChart({ key: 'x' }, { total: 13, finished: 1, elsewhere: 0, phases: [{ index: 0, name: 'A', flags: 12 }] }, { width: 2 }), 'x · legacy pipeline · 13 flags\n  0 A         ██  12\n    finished  █    1')
})

test('inert: every control character escaped, the token masked by the given mask; inertJson stays JSON', () => {
  const { inert, inertJson } = require('../lib/cli/text.js')
  assert.equal(inert('a\x1b[2Jb\x07\x9b\u202e\u2066\u200e\u061c\x7f\n\tc'), 'a\\u{1b}[2Jb\\u{7}\\u{9b}\\u{202e}\\u{2066}\\u{200e}\\u{61c}\\u{7f}\\u{a}\\u{9}c')
  assert.equal(inert('café ✓ →'), 'café ✓ →', 'printable text is kept')
  assert.equal(inert(undefined), '')
  assert.equal(inert(42), '42')
  assert.equal(inert('x SECRET\x1b', (t) => t.replace('SECRET', '****')), 'x ****\\u{1b}')
  const value = { name: '\x1b]0;t\x07\x9b\u202e\u2028', list: [1, '\x7f'] }
  const json = inertJson(value)
  assert.doesNotMatch(json, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2028]/)
  assert.deepEqual(JSON.parse(json), value, 'the same JSON')
})

test('an environment release without its variations is drawn with ?, never undefined', () => {
  const { renderEnvironmentRelease } = require('../lib/cli/rollout-render.js')
  const sparse = { id: 'r1', flagKey: 'f', environmentKey: 'production', status: 'in_progress', phases: [] }
  const drawn = renderEnvironmentRelease(sparse, { text: String, now: 0 })
  assert.doesNotMatch(drawn, /undefined/)
  assert.match(drawn, /^ {2}\? → \? · by \?/m)
  // With ids but no values and no flag, the ids are shown; with a value, the value.
  const named = renderEnvironmentRelease({ ...sparse, originalVariationId: 'v-off', targetVariationId: 'v-on', targetVariationValue: true }, { text: String, now: 0 })
  assert.match(named, /^ {2}v-off → true · by \?/m)
})

test("countsOf: a pipeline's flags per phase from the progressions summary, whatever its shape", () => {
  const { countsOf } = require('../lib/cli/pipelines.js')
  const pipeline = { key: 'p', phases: [{ id: 'a', name: 'A' }, { id: 'b', name: 'B' }] }
  const phases = (a, b) => [
    { index: 0, id: 'a', name: 'A', flags: a },
    { index: 1, id: 'b', name: 'B', flags: b },
  ]
  // Counts by phase id; a phase the pipeline no longer has counts as elsewhere.
  assert.deepEqual(countsOf(pipeline, { totalCount: 12, activeCount: 9, completedCount: 3, phases: [{ _id: 'b', releaseCount: 2 }, { _id: 'gone', releaseCount: 4 }, { _id: 'a', releaseCount: 3 }] }), {
    total: 12,
    finished: 3,
    phases: phases(3, 2),
    elsewhere: 4,
  })
  // Entries that are not objects, or whose count is not a number, count as nothing.
  assert.deepEqual(countsOf(pipeline, { totalCount: 2, activeCount: 2, completedCount: 0, phases: [null, 7, { _id: 'a', releaseCount: 'x' }, { _id: 'b', releaseCount: '2' }] }), {
    total: 2,
    finished: 0,
    phases: phases(0, 2),
    elsewhere: 0,
  })
  // No phases listed: every active flag is elsewhere; never below zero.
  assert.deepEqual(countsOf(pipeline, { totalCount: 5, activeCount: 5, completedCount: 0, phases: 'none' }).phases, phases(0, 0))
  assert.equal(countsOf(pipeline, { totalCount: 5, activeCount: 5, completedCount: 0 }).elsewhere, 5)
  assert.equal(countsOf(pipeline, { totalCount: 5, activeCount: 1, completedCount: 0, phases: [{ _id: 'a', releaseCount: 3 }] }).elsewhere, 0)
})
