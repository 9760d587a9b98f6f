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
