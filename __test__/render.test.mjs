// The terminal drawing of a release, exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { renderRelease, wantsColor } = require('../lib/cli/render.js')
const { sampleRelease } = require('../testing/index.js')

function known() {
  const release = sampleRelease({ _version: 3 })
  Object.assign(release.phases[0], {
    complete: true,
    status: 'Complete',
    _completionDate: 1764316800000, // 2025-11-28 08:00 UTC
    _completedBy: { member: { _links: {}, _id: 'm1', role: 'writer', email: 'ada@example.com' } },
  })
  Object.assign(release.phases[1], { started: true, status: 'Started', _startedDate: 1764320400000 })
  release.phases[2]._audiences.push({ ...release.phases[2]._audiences[0], _id: 'eu', environment: { ...release.phases[2]._audiences[0].environment, key: 'production-eu' } })
  return release
}

test('the plain drawing of a known release', () => {
  assert.equal(
    renderRelease(known()),
    [
      'Standard rollout (standard-rollout) · version 3',
      '  0 ✓ Testing     started 2025-11-28 04:20 UTC · completed 2025-11-28 08:00 UTC by ada@example.com · test',
      '  1 ● Staging     started 2025-11-28 09:00 UTC · staging',
      '  2 ○ Production  waiting · production, production-eu',
    ].join('\n'),
  )
})

test('who completed a phase: member email, else token name, else token ending', () => {
  const release = known()
  release.phases[0]._completedBy = { token: { name: 'deploy bot', ending: 'abcd' } }
  assert.match(renderRelease(release), /by deploy bot · test/)
  release.phases[0]._completedBy = { token: { ending: 'abcd' } }
  assert.match(renderRelease(release), /by token …abcd · test/)
})

test('the first incomplete phase after completed ones is in progress, even if not started', () => {
  const release = sampleRelease()
  release.phases[0].started = false
  release.phases[0].status = 'NotStarted'
  delete release.phases[0]._startedDate
  assert.match(renderRelease(release).split('\n')[1], /^ {2}0 ● Testing/)
  assert.match(renderRelease(release).split('\n')[2], /^ {2}1 ○ Staging/)
})

test('colour only when asked', () => {
  const plain = renderRelease(known())
  const colored = renderRelease(known(), { color: true })
  assert.doesNotMatch(plain, /\x1b\[/)
  assert.match(colored, /\x1b\[32m✓\x1b\[39m/)
  assert.equal(colored.replace(/\x1b\[\d+m/g, ''), plain)
})

test('colour follows the TTY, NO_COLOR and FORCE_COLOR', () => {
  assert.equal(wantsColor({ isTTY: true }, {}), true)
  assert.equal(wantsColor({ isTTY: false }, {}), false)
  assert.equal(wantsColor({ isTTY: true }, { NO_COLOR: '1' }), false)
  assert.equal(wantsColor({ isTTY: false }, { FORCE_COLOR: '1' }), true)
  assert.equal(wantsColor({ isTTY: true }, { NO_COLOR: '1', FORCE_COLOR: '1' }), false)
})
