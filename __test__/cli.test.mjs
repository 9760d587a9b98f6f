// The `ld-release` command, run as users run it: a child process against the fake.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TOKEN, VERSION, client, fake, sampleRelease } from './helpers.mjs'

const BIN = fileURLToPath(new URL('../bin/ld-release.js', import.meta.url))

/** Runs the binary; resolves to { code, stdout, stderr, ms }. */
function cli(args, { env = {}, input } = {}) {
  const clean = { ...process.env }
  for (const name of ['LD_ACCESS_TOKEN', 'LAUNCHDARKLY_ACCESS_TOKEN', 'LD_BASE_URI', 'LAUNCHDARKLY_API_HOST', 'FORCE_COLOR', 'NO_COLOR']) delete clean[name]
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...clean, ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }))
    child.stdin.end(input ?? '')
  })
}

const auth = (server) => ['--access-token', server.apiKey, '--base-uri', server.url]

test('status draws the pipeline', async (t) => {
  const server = await fake(t)
  const r = await cli(['status', 'web', 'checkout', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trimEnd().split('\n')
  assert.equal(lines[0], 'Standard rollout (standard-rollout) · version 1')
  assert.match(lines[1], /^ {2}0 ● Testing {5}started .* · test$/)
  assert.match(lines[3], /^ {2}2 ○ Production {2}waiting · production$/)
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour when stdout is not a TTY')
  assert.equal(server.requests.length, 1)
  assert.equal(server.requests[0].method, 'GET')
})

test('complete and reopen change the phase and draw the result; env vars work', async (t) => {
  const server = await fake(t)
  const env = { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url }
  const done = await cli(['complete', 'web', 'checkout', '0'], { env })
  assert.equal(done.code, 0, done.stderr)
  assert.match(done.stdout, /version 2\n {2}0 ✓ Testing .*completed .* by fake token/)
  assert.equal(server.getRelease('web', 'checkout').phases[0].complete, true)
  const byName = await cli(['complete', 'web', 'checkout', 'Staging'], { env })
  assert.equal(byName.code, 0, byName.stderr)
  assert.equal(server.getRelease('web', 'checkout').phases[1].complete, true)
  const reopened = await cli(['reopen', 'web', 'checkout', '0'], { env })
  assert.equal(reopened.code, 0, reopened.stderr)
  assert.match(reopened.stdout, / {2}0 ● Testing/)
  assert.equal(server.getRelease('web', 'checkout').phases[0].complete, false)
})

test('--json prints exactly the Release the library returns', async (t) => {
  const server = await fake(t)
  const r = await cli(['complete', 'web', 'checkout', '1', '--json', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  const printed = JSON.parse(r.stdout)
  assert.deepEqual(printed, await client(server).getRelease('web', 'checkout'))
  assert.equal(printed.phases[1].complete, true)
  assert.equal(r.stderr, '')
})

test('patch takes --data inline, from a file and from stdin', async (t) => {
  const server = await fake(t)
  const dir = mkdtempSync(join(tmpdir(), 'ld-release-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'patch.json')
  writeFileSync(file, JSON.stringify([{ op: 'replace', path: '/phases/1/complete', value: true }]))
  const inline = await cli(['patch', 'web', 'checkout', '--data', '[{"op":"replace","path":"/phases/0/complete","value":true}]', ...auth(server)])
  const fromFile = await cli(['patch', 'web', 'checkout', '--data', `@${file}`, ...auth(server)])
  const fromStdin = await cli(['patch', 'web', 'checkout', '--data', '-', '--json', ...auth(server)], {
    input: '[{"op":"replace","path":"/phases/2/complete","value":true}]',
  })
  for (const r of [inline, fromFile, fromStdin]) assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(fromStdin.stdout).phases.map((p) => p.complete), [true, true, true])
  assert.deepEqual(server.requests.map((q) => q.json[0].path), ['/phases/0/complete', '/phases/1/complete', '/phases/2/complete'])
})

test('--dry-run prints the request with the token masked and sends nothing', async (t) => {
  const server = await fake(t)
  const r = await cli(['complete', 'web', 'checkout', '2', '--dry-run', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(server.requests.length, 0)
  const lines = r.stdout.trimEnd().split('\n')
  assert.equal(lines[0], `PATCH ${server.url}/api/v2/flags/web/checkout/release`)
  assert.ok(lines.includes(`Authorization: ****${TOKEN.slice(-4)}`), r.stdout)
  assert.ok(lines.includes('LD-API-Version: beta'))
  assert.equal(lines.at(-1), '[{"op":"replace","path":"/phases/2/complete","value":true}]')
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(TOKEN))
  // Without a token too.
  const bare = await cli(['status', 'web', 'checkout', '--dry-run'])
  assert.equal(bare.code, 0, bare.stderr)
  assert.match(bare.stdout, /^GET https:\/\/app\.launchdarkly\.com\/api\/v2\/flags\/web\/checkout\/release\n/)
  assert.match(bare.stdout, /^Authorization: \(not set\)$/m)
})

test('usage errors exit 2 with the usage, and send nothing', async (t) => {
  const server = await fake(t)
  for (const args of [
    ['complete', 'web', 'checkout', '-1'],
    ['complete', 'web', 'checkout', '1.5'],
    ['complete', 'web', 'checkout', '4294967296'],
    ['complete', 'web', 'checkout'],
    ['status', 'web', 'checkout', '--nope'],
    ['status', 'web', 'checkout', '--timeout', 'soon'],
    ['patch', 'web', 'checkout', '--data', '{not json'],
    ['frobnicate'],
  ]) {
    const r = await cli([...args, ...auth(server)])
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /^error: /)
    assert.match(r.stderr, /Usage: ld-release/)
    assert.equal(r.stdout, '')
  }
  assert.equal(server.requests.length, 0)
})

test('a missing token exits 2 and names the variables', async () => {
  const r = await cli(['status', 'web', 'checkout', '--base-uri', 'http://127.0.0.1:9'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /No LaunchDarkly access token: pass apiKey, or set LD_ACCESS_TOKEN or LAUNCHDARKLY_ACCESS_TOKEN \(code ERR_LD_NO_API_KEY\)/)
})

test('a 404 exits 1 with the code and the HTTP status', async (t) => {
  const server = await fake(t)
  const r = await cli(['status', 'web', 'missing', ...auth(server)])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^error: LaunchDarkly answered 404 Not Found .* \(code ERR_LD_NOT_FOUND, HTTP 404\)\n$/)
  assert.equal(r.stdout, '')
})

test('a 429 with Retry-After succeeds after the wait', async (t) => {
  const server = await fake(t)
  server.injectFault({ status: 429, headers: { 'Retry-After': '1' } })
  const r = await cli(['complete', 'web', 'checkout', '0', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(server.requests.length, 2)
  assert.ok(r.ms >= 1000, `finished in ${r.ms} ms`)
})

test('complete-many reports each item and exits 1 when one failed', async (t) => {
  const server = await fake(t, {
    releases: ['a', 'b'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() })),
  })
  const items = [
    { projectKey: 'web', flagKey: 'a', phase: 0 },
    { projectKey: 'web', flagKey: 'b', phase: 1 },
    { projectKey: 'web', flagKey: 'missing', phase: 0 },
  ]
  const r = await cli(['complete-many', '--file', '-', '--concurrency', '2', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(r.code, 1)
  assert.equal(r.stdout, '✓ web/a phase 0\n✓ web/b phase 1\n✗ web/missing phase 0: ' + r.stdout.split('✗ web/missing phase 0: ')[1])
  assert.match(r.stdout, /code ERR_LD_NOT_FOUND\)\n$/)
  assert.match(r.stderr, /2 done, 1 failed/)
  const ok = await cli(['complete-many', '--file', '-', '--json', ...auth(server)], { input: JSON.stringify(items.slice(0, 2)) })
  assert.equal(ok.code, 0, ok.stderr)
  assert.deepEqual(JSON.parse(ok.stdout).map((x) => x.ok), [true, true])
})

test('create, phase-status and delete', async (t) => {
  const server = await fake(t)
  const created = await cli(['create', 'web', 'fresh', '--pipeline', 'standard-rollout', '--json', ...auth(server)])
  assert.equal(created.code, 0, created.stderr)
  const release = JSON.parse(created.stdout)
  assert.equal(release.releasePipelineKey, 'standard-rollout')
  const status = await cli(['phase-status', 'web', 'fresh', release.phases[1]._id, '--status', 'Started', ...auth(server)])
  assert.equal(status.code, 0, status.stderr)
  assert.match(status.stdout, / {2}1 ● Staging/)
  const deleted = await cli(['delete', 'web', 'fresh', ...auth(server)])
  assert.equal(deleted.code, 0, deleted.stderr)
  assert.equal(server.getRelease('web', 'fresh'), undefined)
  assert.deepEqual(server.requests.map((q) => q.method), ['PUT', 'PUT', 'DELETE'])
})

test('--version, --help and per-command help', async () => {
  const version = await cli(['--version'])
  assert.equal(version.stdout, `ld-release ${VERSION}\n`)
  const help = await cli(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /^Usage: ld-release <command> \[options\]/)
  const commandHelp = await cli(['complete', '--help'])
  assert.match(commandHelp.stdout, /^Usage: ld-release complete <project> <flag> <phase> \[options\]/)
  const bare = await cli([])
  assert.equal(bare.code, 2)
})

test('demo completes phase 0 against the built-in fake and exits 0', async () => {
  const r = await cli(['demo'])
  assert.equal(r.code, 0, r.stderr)
  const [before, after] = r.stdout.split('\nAfter:\n')
  assert.match(before, /Before: ld-release status web new-checkout\nStandard rollout \(standard-rollout\) · version 1\n {2}0 ● Testing/)
  assert.match(after, /^Standard rollout \(standard-rollout\) · version 2\n {2}0 ✓ Testing/)
  assert.match(r.stdout, /sent PATCH \/api\/v2\/flags\/web\/new-checkout\/release/)
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
})

test('complete-many draws a progress bar when it has a terminal', { skip: (process.platform !== 'linux' || !existsSync('/usr/bin/script')) && 'needs util-linux script for a pseudo-terminal' }, async (t) => {
  const server = await fake(t, {
    releases: ['a', 'b', 'c'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() })),
  })
  const dir = mkdtempSync(join(tmpdir(), 'ld-release-tty-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'items.json')
  writeFileSync(file, JSON.stringify(['a', 'b', 'c'].map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 }))))
  const command = [process.execPath, BIN, 'complete-many', '--file', file, ...auth(server)].map((a) => `'${a}'`).join(' ')
  // `script` runs the command on a pseudo-terminal: stdout and stderr are TTYs.
  const r = await new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '' } })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out }))
  })
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /\[#{30}\] 3\/3/)
  assert.match(r.out, /\r\[#+-*\] [12]\/3/)
  assert.match(r.out, /3 done, 0 failed/)
})
