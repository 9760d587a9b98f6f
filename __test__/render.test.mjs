// The terminal drawing of a release, exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { renderRelease, renderPreview, formatTime, wantsColor } = require('../lib/cli/render.js')

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
