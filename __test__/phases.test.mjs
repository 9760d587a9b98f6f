// The CLI's words for a phase and for what a dry run of a phase change found
// (lib/cli/phases.js), and its reading of a pipeline's kind (lib/cli/pipeline.js), in
// this process: the plans are shaped as the library's dry runs answer (`PhaseDryRun`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { describePhase, notesFor } = require('../lib/cli/phases.js')
const { isNewPipeline } = require('../lib/cli/pipeline.js')

const TOKEN = 'api-0123456789abcdef'
const ctx = { redact: (text) => String(text).replaceAll(TOKEN, '********') }

/** A release of `names.length` phases, ids `ph-0`, `ph-1`… */
function release(names, fields = {}) {
  return { releasePipelineKey: 'rollout', phases: names.map((name, i) => ({ _id: `ph-${i}`, _name: name, complete: false })), ...fields }
}

const patch = (index) => ({ method: 'PATCH', url: '/api/v2/projects/web/flags/f/release', body: JSON.stringify([{ op: 'replace', path: `/phases/${index}/complete`, value: true }]) })
const put = (id) => ({ method: 'PUT', url: `/api/v2/projects/web/flags/f/release/phases/${encodeURIComponent(id)}`, body: '{}' })

test('describePhase shows an index bare, a name quoted, an id as id:…, and anything else as JSON', () => {
  assert.equal(describePhase(0), '0')
  assert.equal(describePhase(12), '12')
  assert.equal(describePhase('12'), '12')
  assert.equal(describePhase('QA'), '"QA"')
  assert.equal(describePhase('12ab'), '"12ab"', 'only a whole number is an index')
  assert.equal(describePhase('3'), '3')
  assert.equal(describePhase('xid:1'), '"xid:1"', 'id: only at the start')
  assert.equal(describePhase('id:ph 1'), 'id:ph 1')
  assert.equal(describePhase({ id: 'ph-1' }), 'id:ph-1')
  assert.equal(describePhase({ id: '' }), 'id:')
  assert.equal(describePhase({ name: 'Go "live"' }), '"Go \\"live\\""')
  assert.equal(describePhase({ id: 'ph-1', name: 'QA' }), 'id:ph-1', 'the id wins')
  assert.equal(describePhase({ id: 5 }), '{"id":5}', 'an id that is not a string is no id')
  assert.equal(describePhase({}), '{}')
  assert.equal(describePhase(null), 'null')
})

test('a PATCH by name says which phase the name is; by index it says nothing', () => {
  const r = release(['Dev', 'QA', 'Prod'])
  assert.deepEqual(notesFor(ctx, { release: r, request: patch(1), pipelineKind: 'legacy' }, { phase: { name: 'QA' } }), [
    '(read from the release: phase 1 is "QA"; the PATCH fails with ERR_LD_CONFLICT if that changes first)',
  ])
  assert.deepEqual(notesFor(ctx, { release: r, request: patch(1), pipelineKind: 'legacy' }, { phase: 1 }), [])
})

test('a phase index of two digits is read from the PATCH whole', () => {
  const r = release(Array.from({ length: 13 }, (_, i) => `P${i}`))
  assert.deepEqual(notesFor(ctx, { release: r, request: patch(12), pipelineKind: 'legacy' }, { phase: { name: 'P12' } }), [
    '(read from the release: phase 12 is "P12"; the PATCH fails with ERR_LD_CONFLICT if that changes first)',
  ])
})

test('a pipeline whose kind could not be read is named, with what the call does then', () => {
  const r = release(['Dev', 'QA'])
  assert.deepEqual(notesFor(ctx, { release: r, request: patch(0), pipelineKind: 'unknown' }, { phase: 0 }), [
    '(the kind of release pipeline "rollout" could not be read: the call sends the PATCH, as to a legacy release pipeline)',
  ])
  const unnamed = release(['Dev', 'QA'], { releasePipelineKey: undefined })
  assert.deepEqual(notesFor(ctx, { release: unnamed, request: patch(0), pipelineKind: 'unknown' }, { phase: 0 }), [
    '(the kind of release pipeline "" could not be read: the call sends the PATCH, as to a legacy release pipeline)',
  ])
})

test('completing a phase of a new pipeline names the phase it starts', () => {
  const r = release(['Dev', 'QA', 'Prod'])
  assert.deepEqual(notesFor(ctx, { release: r, request: put('ph-2'), pipelineKind: 'new' }, { phase: 1 }), [
    '(read from the release and its pipeline: "rollout" is a new release pipeline, whose phases only move forward: completing phase 1 ("QA") starts phase 2 ("Prod"))',
  ])
  assert.deepEqual(notesFor(ctx, { release: r, request: put('ph-1'), pipelineKind: undefined }, { phase: { id: 'ph-1' }, starting: true }), ['(read from the release: phase 1 is "QA")'])
})

test('a phase already complete on a new pipeline is found by index, id or name', () => {
  const r = release(['Dev', 'QA', 'Prod'])
  const note = (phase) => notesFor(ctx, { release: r, request: null, pipelineKind: 'new' }, { phase })
  const expected = (i, name) => [
    `(read from the release and its pipeline: "rollout" is a new release pipeline, whose phases only move forward, and phase ${i} ("${name}") is already complete: the call writes nothing and prints the release as it is)`,
  ]
  assert.deepEqual(note(0), expected(0, 'Dev'))
  assert.deepEqual(note({ id: 'ph-2' }), expected(2, 'Prod'))
  assert.deepEqual(note({ name: 'QA' }), expected(1, 'QA'))
})

test('the token is masked in the names the notes quote', () => {
  const r = release(['Dev', `QA ${TOKEN}`], { releasePipelineKey: `p-${TOKEN}` })
  const notes = [
    ...notesFor(ctx, { release: r, request: patch(1), pipelineKind: 'unknown' }, { phase: { name: `QA ${TOKEN}` } }),
    ...notesFor(ctx, { release: r, request: put('ph-1'), pipelineKind: 'new' }, { phase: 0 }),
  ]
  assert.equal(notes.length, 3)
  for (const line of notes) {
    assert.doesNotMatch(line, /0123456789abcdef/)
    assert.match(line, /\*{8}/)
  }
})

test('a write the notes cannot place in the release gives no notes rather than failing', () => {
  const r = release(['Dev', 'QA'])
  const cases = [
    { request: put('no-such-phase'), starting: true },
    { request: put('ph-1'), release: { releasePipelineKey: 'rollout' } },
    { request: { method: 'PATCH', url: '/x', body: '[{"op":"replace","path":"/name","value":"x"}]' } },
    { request: { method: 'PATCH', url: '/x', body: '[{"op":"replace","path":"/x/phases/1/complete","value":true}]' } },
    { request: { method: 'PATCH', url: '/x', body: '[]' } },
    { request: { method: 'PATCH', url: '/x', body: 'null' } },
    { request: { method: 'PATCH', url: '/x', body: '[{"op":"test"}]' } },
    { request: { method: 'PATCH', url: '/x' } },
  ]
  for (const c of cases) {
    assert.deepEqual(notesFor(ctx, { release: c.release ?? r, request: c.request, pipelineKind: 'legacy' }, { phase: { name: 'QA' }, starting: c.starting }), [], JSON.stringify(c))
  }
  // A PUT whose id is found among phases one of which is not an object.
  const holes = { releasePipelineKey: 'rollout', phases: [null, { _id: 'ph-1', _name: 'QA' }] }
  assert.deepEqual(notesFor(ctx, { release: holes, request: put('ph-1'), pipelineKind: undefined }, { phase: { id: 'ph-1' }, starting: true }), ['(read from the release: phase 1 is "QA")'])
  // Nothing read: nothing to say.
  assert.deepEqual(notesFor(ctx, { release: null, request: put('ph-1') }, { phase: { id: 'ph-1' }, starting: true }), [])
})

test('isNewPipeline is true only for a pipeline read as not legacy, and false for any failure', async () => {
  const calls = []
  const client = (answer) => ({
    getReleasePipeline: async (...args) => {
      calls.push(args)
      if (answer instanceof Error) throw answer
      return answer
    },
  })
  assert.equal(await isNewPipeline(client({ key: 'p', _isLegacy: false }), 'web', 'p'), true)
  assert.deepEqual(calls, [['web', 'p', { maxRetries: 0 }]], 'one read, not retried')
  assert.equal(await isNewPipeline(client({ key: 'p', _isLegacy: true }), 'web', 'p'), false)
  assert.equal(await isNewPipeline(client({ key: 'p' }), 'web', 'p'), false, 'a pipeline that does not say is legacy')
  assert.equal(await isNewPipeline(client(Object.assign(new Error('forbidden'), { status: 403 })), 'web', 'p'), false)
})
