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
  const status = await cli(['status', 'web', 'checkout', '--json', ...auth(server)])
  assert.equal(status.code, 0, status.stderr)
  assert.deepEqual(JSON.parse(status.stdout), await client(server).getRelease('web', 'checkout'))
  assert.equal(status.stdout, JSON.stringify(JSON.parse(status.stdout), null, 2) + '\n')
  const r = await cli(['complete', 'web', 'checkout', '1', '--json', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  const printed = JSON.parse(r.stdout)
  assert.deepEqual(printed, await client(server).getRelease('web', 'checkout'))
  assert.equal(printed.phases[1].complete, true)
  assert.equal(r.stderr, '')
})

test('colour only when forced or on a terminal, never with NO_COLOR', async (t) => {
  const server = await fake(t)
  const forced = await cli(['status', 'web', 'checkout', ...auth(server)], { env: { FORCE_COLOR: '1' } })
  assert.equal(forced.code, 0, forced.stderr)
  assert.match(forced.stdout, /\x1b\[33m●\x1b\[39m/)
  const off = await cli(['status', 'web', 'checkout', ...auth(server)], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } })
  assert.equal(off.stdout, forced.stdout.replace(/\x1b\[\d+m/g, ''))
  const json = await cli(['status', 'web', 'checkout', '--json', ...auth(server)], { env: { FORCE_COLOR: '1' } })
  assert.doesNotMatch(json.stdout, /\x1b\[/)
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
  assert.equal(
    r.stdout,
    [
      `PATCH ${server.url}/api/v2/flags/web/checkout/release`,
      'Accept: application/json',
      `Authorization: ****${TOKEN.slice(-4)}`,
      'Content-Type: application/json',
      'LD-API-Version: beta',
      `User-Agent: ld-release/${VERSION}`,
      '',
      '[{"op":"replace","path":"/phases/2/complete","value":true}]',
      '',
    ].join('\n'),
  )
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(TOKEN))
  // Without a token, and as JSON.
  const bare = await cli(['status', 'web', 'checkout', '--dry-run', '--json'])
  assert.equal(bare.code, 0, bare.stderr)
  assert.deepEqual(JSON.parse(bare.stdout), {
    method: 'GET',
    url: 'https://app.launchdarkly.com/api/v2/flags/web/checkout/release',
    headers: { Accept: 'application/json', Authorization: '(not set)', 'LD-API-Version': 'beta', 'User-Agent': `ld-release/${VERSION}` },
  })
  // A phase by name is looked up first: the preview is that read, and a note says what follows.
  const byName = await cli(['reopen', 'web', 'checkout', 'Staging', '--dry-run', ...auth(server)])
  assert.equal(byName.code, 0, byName.stderr)
  assert.match(byName.stdout, /^GET /)
  assert.equal(byName.stderr, '(then a PATCH of the phase named "Staging", found in that release)\n')
  assert.equal(server.requests.length, 0)
})

/** The request a --dry-run output describes, in the fake's terms. */
function parsePreview(text, server) {
  const [head, body = ''] = text.replace(/\n$/, '').split('\n\n')
  const [requestLine, ...headerLines] = head.split('\n')
  const [method, url] = requestLine.split(' ')
  assert.ok(url.startsWith(server.url), url)
  const headers = Object.fromEntries(headerLines.map((l) => l.split(': ')).map(([k, v]) => [k.toLowerCase(), v]))
  return { method, path: url.slice(server.url.length), headers, body }
}

test('each --dry-run describes exactly the request the command then sends', async (t) => {
  const server = await fake(t)
  const patch = '[{"op":"replace","path":"/phases/1/complete","value":true}]'
  const commands = [
    () => ['status', 'web', 'checkout'],
    () => ['complete', 'web', 'checkout', '0'],
    () => ['reopen', 'web', 'checkout', '0'],
    () => ['patch', 'web', 'checkout', '--data', patch],
    () => ['create', 'web', 'fresh', '--pipeline', 'standard-rollout'],
    () => ['phase-status', 'web', 'fresh', server.getRelease('web', 'fresh').phases[1]._id, '--status', 'Started'],
    () => ['delete', 'web', 'fresh'],
  ]
  for (const command of commands) {
    const args = [...command(), ...auth(server)]
    const dry = await cli([...args, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    const before = server.requests.length
    const real = await cli(args)
    assert.equal(real.code, 0, real.stderr)
    assert.equal(server.requests.length, before + 1, `${args[0]} sends one request, its dry run none`)
    const sent = server.requests.at(-1)
    const { host, 'content-length': length, ...sentHeaders } = sent.headers
    assert.ok(host && (length === undefined || Number(length) === Buffer.byteLength(sent.body)))
    const previewed = parsePreview(dry.stdout, server)
    assert.deepEqual(
      { ...previewed, headers: { ...previewed.headers, authorization: undefined } },
      { method: sent.method, path: sent.path, headers: { ...sentHeaders, authorization: undefined }, body: sent.body },
      args[0],
    )
    assert.equal(previewed.headers.authorization, `****${server.apiKey.slice(-4)}`)
  }
  assert.equal(server.getRelease('web', 'fresh'), undefined)
})

test('usage errors exit 2 with the usage, and send nothing', async (t) => {
  const server = await fake(t)
  const cases = [
    ['complete', 'web', 'checkout', '-1'],
    ['complete', 'web', 'checkout', '--', '-1'],
    ['reopen', 'web', 'checkout', '1.5'],
    ['complete', 'web', 'checkout', '1e2'],
    ['complete', 'web', 'checkout', '4294967296'],
    ['complete', 'web', 'checkout', ''],
    ['complete', 'web', 'checkout', 'id:'],
    ['complete', 'web', 'checkout'],
    ['complete', 'web', 'checkout', '0', 'extra'],
    ['status', 'web', 'checkout', '--nope'],
    ['status', 'web', 'checkout', '--data', '[]'],
    ['status', 'web', 'checkout', '--timeout', 'soon'],
    ['status', 'web', 'checkout', '--retries', '-1'],
    ['status', '', 'checkout'],
    ['patch', 'web', 'checkout'],
    ['patch', 'web', 'checkout', '--data', '{not json'],
    ['patch', 'web', 'checkout', '--data', '@/nonexistent/patch.json'],
    ['patch', 'web', 'checkout', '--data', '[{"op":"replace","path":"phases"}]'],
    ['create', 'web', 'checkout'],
    ['frobnicate'],
    ['--json'],
  ]
  const results = await Promise.all(cases.map((args) => cli([...args, ...auth(server)])))
  for (const [i, r] of results.entries()) {
    const args = cases[i]
    const what = `${JSON.stringify(args)}: ${r.stderr}`
    assert.equal(r.code, 2, what)
    assert.match(r.stderr, /^error: [^]+?\n\nUsage: ld-release /, what)
    const command = args[0] === 'frobnicate' || args[0] === '--json' ? '<command>' : args[0]
    assert.ok(r.stderr.includes(`Usage: ld-release ${command} `), what)
    assert.equal(r.stdout, '', what)
  }
  assert.equal(server.requests.length, 0)
})

test('a phase name that is not in the release exits 2 and changes nothing', async (t) => {
  const server = await fake(t)
  const r = await cli(['complete', 'web', 'checkout', 'x', ...auth(server)])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^error: no phase named "x"; the phases are 0: "Testing", 1: "Staging", 2: "Production" \(code ERR_LD_INVALID_ARGUMENT\)\n\nUsage: ld-release complete /)
  assert.deepEqual(server.requests.map((q) => q.method), ['GET'], 'the release is read to look for the name, never patched')
  assert.equal(server.getRelease('web', 'checkout')._version, 1)
})

test('a missing token is a usage error: exit 2, the variables named, nothing sent', async (t) => {
  const server = await fake(t)
  const r = await cli(['complete', 'web', 'checkout', '0', '--base-uri', server.url])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^error: .*No LaunchDarkly access token: pass apiKey, or set LD_ACCESS_TOKEN or LAUNCHDARKLY_ACCESS_TOKEN \(code ERR_LD_NO_API_KEY\)\n\nUsage: ld-release complete /)
  assert.equal(r.stdout, '')
  assert.equal(server.requests.length, 0)
  // The second variable is read too, and a wrong token is the API's answer: exit 1.
  const second = await cli(['status', 'web', 'checkout'], { env: { LAUNCHDARKLY_ACCESS_TOKEN: server.apiKey, LAUNCHDARKLY_API_HOST: server.url } })
  assert.equal(second.code, 0, second.stderr)
  const wrong = await cli(['status', 'web', 'checkout', '--access-token', 'api-wrong', '--base-uri', server.url])
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /\(code ERR_LD_UNAUTHORIZED, HTTP 401\)\n$/)
})

test('an insecure --base-uri is refused before anything is sent', async () => {
  const r = await cli(['status', 'web', 'checkout', '--access-token', TOKEN, '--base-uri', 'http://example.com'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /\(code ERR_LD_INSECURE_URL\)/)
  assert.doesNotMatch(r.stderr, new RegExp(TOKEN))
})

test('a refused connection exits 1 with the network code', async () => {
  const r = await cli(['status', 'web', 'checkout', '--access-token', TOKEN, '--base-uri', 'http://127.0.0.1:9', '--retries', '0'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^error: .* \(code ERR_LD_NETWORK\)\n$/)
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
  assert.ok(server.requests[1].receivedAt - server.requests[0].receivedAt >= 1000)
  assert.match(r.stdout, / {2}0 ✓ Testing/)
})

test('a 429 with retries off exits 1 with the rate-limit code', async (t) => {
  const server = await fake(t)
  server.injectFault({ status: 429, headers: { 'Retry-After': '1' } })
  const r = await cli(['complete', 'web', 'checkout', '0', '--retries', '0', ...auth(server)])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /\(code ERR_LD_RATE_LIMITED, HTTP 429\)\n$/)
  assert.equal(server.getRelease('web', 'checkout').phases[0].complete, false)
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
  assert.equal(deleted.stdout, '')
  assert.equal(deleted.stderr, 'deleted the release of web/fresh\n')
  assert.equal(server.getRelease('web', 'fresh'), undefined)
  assert.deepEqual(server.requests.map((q) => q.method), ['PUT', 'PUT', 'DELETE'])
})

test('--version, --help and per-command help', async () => {
  for (const flag of ['--version', '-V']) {
    const version = await cli([flag])
    assert.deepEqual(version, { ...version, code: 0, stdout: `ld-release ${VERSION}\n`, stderr: '' })
  }
  const help = await cli(['--help'])
  assert.equal(help.code, 0)
  assert.equal(help.stderr, '')
  assert.match(help.stdout, /^Usage: ld-release <command> \[options\]\n\nCommands:\n/)
  for (const command of ['status', 'complete', 'reopen', 'patch', 'demo']) assert.match(help.stdout, new RegExp(`^ {2}${command} +\\S`, 'm'))
  for (const option of ['--access-token', '--base-uri', '--json', '--dry-run', '--timeout', '--retries', '--help', '--version']) assert.ok(help.stdout.includes(option), option)
  assert.deepEqual((await cli(['-h'])).stdout, help.stdout)
  const complete = await cli(['complete', '--help'])
  assert.equal(complete.code, 0)
  assert.match(complete.stdout, /^Usage: ld-release complete <project> <flag> <phase> \[options\]\n\nMark a phase complete/)
  const patch = await cli(['patch', '-h'])
  assert.match(patch.stdout, /^Usage: ld-release patch <project> <flag> \[options\]\n[^]*Command options:\n {2}--data <json> +the JSON Patch: inline, @file.json, or - for stdin\n/)
  const bare = await cli([])
  assert.equal(bare.code, 2)
  assert.equal(bare.stdout, '')
  assert.match(bare.stderr, /^error: missing command\n\nUsage: ld-release <command>/)
})

test('demo draws the pipeline before and after completing phase 0, and exits 0', async () => {
  const r = await cli(['demo'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  const [intro, before, completing, after] = r.stdout.split(/\n\n(?=Before|Completing|After)/)
  assert.match(intro, /^A fake LaunchDarkly is listening on http:\/\/127\.0\.0\.1:\d+, holding one release: project web, flag new-checkout\.$/)
  assert.equal(
    before,
    [
      'Before: ld-release status web new-checkout',
      'Standard rollout (standard-rollout) · version 1',
      '  0 ● Testing     started 2025-11-28 04:20 UTC · test',
      '  1 ○ Staging     waiting · staging',
      '  2 ○ Production  waiting · production',
    ].join('\n'),
  )
  assert.match(completing, /^Completing phase 0 \(Testing\) … with ld-release complete web new-checkout 0, which sends:\nPATCH http:\/\/127\.0\.0\.1:\d+\/api\/v2\/flags\/web\/new-checkout\/release\n/)
  assert.match(completing, /\nLD-API-Version: beta\n[^]*\n\n\[\{"op":"replace","path":"\/phases\/0\/complete","value":true\}\]$/)
  assert.match(after, /^After:\nStandard rollout \(standard-rollout\) · version 2\n {2}0 ✓ Testing {5}started .* · completed .* by fake token · test\n {2}1 ● Staging {5}started .* · staging\n {2}2 ○ Production {2}waiting · production\n$/)
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
