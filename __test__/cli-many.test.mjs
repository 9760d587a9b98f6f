// `ld-release complete-many` run in this process (lib/cli/main.js's `main` with a
// recording io) against the fake: what each kind of item, file and run prints, exactly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { TOKEN, fake } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { main } = require('../lib/cli/main.js')

/**
 * Runs the CLI with `argv`; stdin is `input`; `tty` makes stderr a terminal (its writes
 * kept in `drawn`). `out` and `err` are what was written, each line with its newline.
 */
async function run(argv, input = '', { tty = false } = {}) {
  const out = []
  const err = []
  const drawn = []
  const io = { out: (text) => out.push(`${text}\n`), err: (text) => err.push(`${text}\n`), readStdin: () => input, env: {}, stderr: tty ? { isTTY: true, columns: 80, write: (text) => drawn.push(text) } : undefined }
  const code = await main(argv, io)
  return { code, out: out.join(''), err: err.join(''), drawn: drawn.join('') }
}

const auth = (server) => ['--access-token', TOKEN, '--base-uri', server.url]
const many = (server, items, ...flags) => run(['complete-many', '--file', '-', ...flags, ...auth(server)], JSON.stringify(items))
const item = (phase, flagKey = 'checkout') => ({ projectKey: 'web', flagKey, phase })
const writes = (server) => server.requests.filter((q) => q.method !== 'GET')

test('items that are not objects, and phases the library refuses, fail alone; the others are done', async (t) => {
  const server = await fake(t)
  const r = await many(server, [5, null, [], 'x', item(null), item({}), item({ id: 5 }), item('id:'), item(0), item(1, 'nope')], '--json')
  assert.equal(r.code, 1)
  const results = JSON.parse(r.out)
  const notObject = (i) => ({ ok: false, error: { code: 'ERR_LD_INVALID_ARGUMENT', message: `items[${i}] must be an object { projectKey, flagKey, phase, complete? }` } })
  const refused = (phase, message) => ({ ok: false, projectKey: 'web', flagKey: 'checkout', phase, error: { code: 'ERR_LD_INVALID_ARGUMENT', message } })
  assert.deepEqual(results.slice(0, 8), [
    notObject(0),
    notObject(1),
    notObject(2),
    notObject(3),
    refused(null, 'items[4].phase is required'),
    refused({}, 'items[5].phase must be a number, got an object'),
    refused({ id: 5 }, 'items[6].phase must be a number, got an object'),
    refused('id:', 'items[7].phase: phase id must not be empty'),
  ])
  // The library's own refusals name the item by its place in the file, not in the batch
  // of items by index that it was given; its other errors are as it gave them.
  assert.deepEqual(results[9], {
    ok: false,
    projectKey: 'web',
    flagKey: 'nope',
    phase: 1,
    error: { code: 'ERR_LD_NOT_FOUND', status: 404, message: 'LaunchDarkly answered 404 Not Found to GET /api/v2/flags/web/nope/release: not_found: No release for flag nope in project web [1 attempt]' },
  })
  assert.equal(results[8].ok, true)
  assert.equal(results[8].release.phases[0].complete, true)
  assert.deepEqual(writes(server).length, 1)
})

test('a --file that is not an array of items, or a bad --concurrency, is a usage error naming it; nothing is sent', async (t) => {
  const server = await fake(t)
  const usage = "\nRun 'ld-release complete-many --help' for usage."
  const cases = [
    [['--file', '-'], '{}', 'error: --file must hold a JSON array of { projectKey, flagKey, phase, complete? }'],
    [['--file', '-'], '[1,', 'error: --file is not valid JSON: Unexpected end of JSON input'],
    [['--file', '/nonexistent/items.json'], '', "error: --file: cannot read /nonexistent/items.json: ENOENT: no such file or directory, open '/nonexistent/items.json'"],
    [['--file', '-', '--concurrency', '0'], '[]', 'error: --concurrency must be an integer from 1 to 256, got "0"'],
  ]
  for (const [flags, input, message] of cases) {
    const r = await run(['complete-many', ...flags, ...auth(server)], input)
    assert.deepEqual([r.code, r.out, r.err], [2, '', `${message}${usage}\n`], flags.join(' '))
  }
  assert.equal(server.requests.length, 0)
})

test('a dry run in which every item would fail prints no preview, and says why for each', async (t) => {
  const server = await fake(t)
  const r = await many(server, [item('QA', 'nope'), item('bad:'), item('id:')], '--dry-run')
  assert.equal(r.code, 1)
  assert.equal(r.out, '', 'nothing on stdout')
  assert.equal(
    r.err,
    [
      '✗ web/nope phase "QA": would fail: LaunchDarkly answered 404 Not Found to GET /api/v2/flags/web/nope/release: not_found: No release for flag nope in project web [1 attempt] (code ERR_LD_NOT_FOUND)',
      '✗ web/checkout phase "bad:": would fail: no phase named "bad:"; the phases are 0: "Testing", 1: "Staging", 2: "Production" (code ERR_LD_INVALID_ARGUMENT)',
      '✗ web/checkout phase id:: would fail: items[2].phase: phase id must not be empty (code ERR_LD_INVALID_ARGUMENT)',
      'would send no request; 3 items would fail; nothing was sent\n',
    ].join('\n'),
  )
  assert.deepEqual(writes(server), [])
})

test('on a terminal, the progress bar counts the items refused before any request as done', async (t) => {
  const server = await fake(t)
  const r = await many(server, [item('id:'), item(1), item('Testing')], '--concurrency', '1')
  assert.equal(r.code, 1)
  assert.equal(r.out, ['✗ web/checkout phase id:: items[0].phase: phase id must not be empty (code ERR_LD_INVALID_ARGUMENT)', '✓ web/checkout phase 1', '✓ web/checkout phase "Testing"\n'].join('\n'))
  assert.equal(r.err, '2 done, 1 failed\n')
  assert.equal(r.drawn, '', 'no bar when stderr is not a terminal')
  const server2 = await fake(t)
  const drawn = await run(['complete-many', '--file', '-', '--concurrency', '1', ...auth(server2)], JSON.stringify([item('id:'), item(1), item('Testing')]), { tty: true })
  assert.equal(drawn.drawn, '\r[##########--------------------] 1/3\r[####################----------] 2/3\r[##############################] 3/3\n')
})
