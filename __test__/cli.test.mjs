// The `ld-release` command, run as users run it: a child process against the fake.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { createServer, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import dc from 'node:diagnostics_channel'
import { createRequire } from 'node:module'
import { ENV_VARS, TOKEN, VERSION, assertNoSecretIn, client, deadPort, fake, sampleRelease, sleep } from './helpers.mjs'

const { sampleNewPipelineRelease } = createRequire(import.meta.url)('../testing/index.js')

const BIN = fileURLToPath(new URL('../bin/ld-release.js', import.meta.url))

/** This process's environment without the variables the library and the drawing read, plus `extra`. */
function cleanEnv(extra = {}) {
  const env = { ...process.env }
  for (const name of [...ENV_VARS, 'FORCE_COLOR', 'NO_COLOR']) delete env[name]
  return { ...env, ...extra }
}

/** Runs the binary; resolves to { code, stdout, stderr, ms }. */
function cli(args, { env = {}, input } = {}) {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env) })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: performance.now() - started }))
    // A command that never reads stdin may exit before the input is written: EPIPE then
    // is no failure of the command.
    child.stdin.on('error', (error) => error.code !== 'EPIPE' && reject(error))
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

test('--dry-run prints the request with the token masked and writes nothing', async (t) => {
  const server = await fake(t)
  const r = await cli(['complete', 'web', 'checkout', '2', '--dry-run', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  // The release and its pipeline are read, to tell which write the call makes.
  assert.deepEqual(server.requests.map((q) => `${q.method} ${q.path}`), ['GET /api/v2/flags/web/checkout/release', 'GET /api/v2/projects/web/release-pipelines/standard-rollout'])
  server.clearRequests()
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
  assert.equal(server.requests.length, 0)
})

test('a --dry-run by name or id reads the release and previews exactly the PATCH the real call sends', async (t) => {
  const server = await fake(t)
  const id = server.getRelease('web', 'checkout').phases[2]._id
  for (const [command, phase, index] of [['complete', 'Staging', 1], ['reopen', `id:${id}`, 2]]) {
    server.clearRequests()
    const dry = await cli([command, 'web', 'checkout', phase, '--dry-run', ...auth(server)])
    assert.equal(dry.code, 0, dry.stderr)
    assert.deepEqual(server.requests.map((q) => q.method), ['GET', 'GET'], 'a dry run only reads: the release and its pipeline')
    assert.match(dry.stderr, new RegExp(`^\\(read from the release: phase ${index} is "${['Testing', 'Staging', 'Production'][index]}"; `))
    const previewed = parsePreview(dry.stdout, server)
    assert.deepEqual(JSON.parse(previewed.body), [
      { op: 'test', path: `/phases/${index}/_id`, value: server.getRelease('web', 'checkout').phases[index]._id },
      { op: 'replace', path: `/phases/${index}/complete`, value: command === 'complete' },
    ])
    const real = await cli([command, 'web', 'checkout', phase, ...auth(server)])
    assert.equal(real.code, 0, real.stderr)
    const sent = server.requests.at(-1)
    // The dry run's reads; then the real call's read of the release, of its pipeline, and the PATCH.
    assert.deepEqual(server.requests.map((q) => q.method), ['GET', 'GET', 'GET', 'GET', 'PATCH'])
    assert.deepEqual([previewed.method, previewed.path, previewed.body], [sent.method, sent.path, sent.body])
  }
  // As JSON, the same request.
  const json = await cli(['complete', 'web', 'checkout', 'Production', '--dry-run', '--json', ...auth(server)])
  assert.equal(json.code, 0, json.stderr)
  assert.deepEqual(JSON.parse(JSON.parse(json.stdout).body)[0], { op: 'test', path: '/phases/2/_id', value: id })
})

test('a --dry-run by an unknown name fails as the real call does: exit 2 and the list of phases', async (t) => {
  const server = await fake(t)
  for (const extra of [['--dry-run'], []]) {
    server.clearRequests()
    const r = await cli(['complete', 'web', 'checkout', 'NoSuchPhase', ...extra, ...auth(server)])
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.equal(
      r.stderr,
      'error: no phase named "NoSuchPhase"; the phases are 0: "Testing", 1: "Staging", 2: "Production" (code ERR_LD_INVALID_ARGUMENT)\n' +
        "Run 'ld-release complete --help' for usage.\n",
      extra.join(' '),
    )
    assert.deepEqual(server.requests.map((q) => q.method), ['GET'])
  }
  // A name two phases share is refused too, naming both.
  server.setRelease('web', 'twins', sampleRelease({ phases: sampleRelease().phases.map((p) => ({ ...p, _name: 'Same' })) }))
  const twins = await cli(['complete', 'web', 'twins', 'Same', '--dry-run', ...auth(server)])
  assert.equal(twins.code, 2)
  assert.match(twins.stderr, /^error: 3 phases are named "Same" \(indexes \[0, 1, 2\]\); name the phase by index or id/)
  // A release that is not there is the API's answer: exit 1.
  const missing = await cli(['complete', 'web', 'missing', 'Staging', '--dry-run', ...auth(server)])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /\(code ERR_LD_NOT_FOUND, HTTP 404\)\n$/)
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
    () => ['start', 'web', 'fresh', `id:${server.getRelease('web', 'fresh').phases[2]._id}`],
    () => ['delete', 'web', 'fresh'],
  ]
  for (const command of commands) {
    const args = [...command(), ...auth(server)]
    const dry = await cli([...args, '--dry-run'])
    assert.equal(dry.code, 0, dry.stderr)
    const before = server.requests.length
    const real = await cli(args)
    assert.equal(real.code, 0, real.stderr)
    // A phase change reads first (the release, its pipeline), then sends its one write.
    const reads = ['complete', 'reopen'].includes(args[0]) ? 2 : 0
    assert.equal(server.requests.length, before + reads + 1, `${args[0]} sends one request after its reads`)
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

test('usage errors exit 2 with the error and a one-line hint, and send nothing', async (t) => {
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
    ['status', 'web', 'checkout', '--json=yes'],
    ['status', 'web', 'checkout', '--timeout', 'soon'],
    ['status', 'web', 'checkout', '--retries', '-1'],
    ['status', '', 'checkout'],
    ['patch', 'web', 'checkout'],
    ['patch', 'web', 'checkout', '--data', '{not json'],
    ['patch', 'web', 'checkout', '--data', '@/nonexistent/patch.json'],
    ['patch', 'web', 'checkout', '--data', '[{"op":"replace","path":"phases"}]'],
    ['create', 'web', 'checkout'],
    ['demo', '--json'],
    ['demo', '--dry-run'],
    ['fake', '--port', '70000'],
  ]
  const results = await Promise.all(cases.map((args) => cli([...args, ...(['demo', 'fake'].includes(args[0]) ? [] : auth(server))])))
  for (const [i, r] of results.entries()) {
    const args = cases[i]
    const what = `${JSON.stringify(args)}: ${r.stderr}`
    assert.equal(r.code, 2, what)
    assert.match(r.stderr, new RegExp(`^error: [^\\n]+\\nRun 'ld-release ${args[0]} --help' for usage\\.\\n$`), what)
    assert.equal(r.stdout, '', what)
  }
  assert.equal(server.requests.length, 0)
})

test('did-you-mean for commands and options, and the hint to the right help', async () => {
  const cases = [
    [['statsu', 'web', 'checkout'], 'unknown command "statsu" (did you mean status?)', "'ld-release --help'"],
    [['compleet', 'web', 'checkout', '0'], 'unknown command "compleet" (did you mean complete?)', "'ld-release --help'"],
    [['frobnicate'], 'unknown command "frobnicate"', "'ld-release --help'"],
    [['status', 'web', 'checkout', '--jsno'], 'unknown option --jsno (did you mean --json?)', "'ld-release status --help'"],
    [['status', 'web', 'checkout', '--dryrun'], 'unknown option --dryrun (did you mean --dry-run?)', "'ld-release status --help'"],
    [['--acces-token', 'x', 'status', 'web', 'checkout'], 'unknown option --acces-token (did you mean --access-token?)', "'ld-release --help'"],
    [['status', 'web', 'checkout', '-x'], 'unknown option -x', "'ld-release status --help'"],
    [['status', 'web', 'checkout', '--data', '[]'], 'status does not take --data (patch takes it)', "'ld-release status --help'"],
    [['demo', '--port', '1'], 'demo does not take --port (fake takes it)', "'ld-release demo --help'"],
    [['status', 'web', 'checkout', '--access-token'], '--access-token needs a value: --access-token <token> (or --access-token=<token>)', "'ld-release status --help'"],
    [['status', 'web', 'checkout', '--base-uri', '--json'], '--base-uri needs a value: --base-uri <url> (or --base-uri=<url>)', "'ld-release status --help'"],
    [['--json'], 'missing command', "'ld-release --help'"],
    [[], 'missing command', "'ld-release --help'"],
  ]
  const results = await Promise.all(cases.map(([args]) => cli(args)))
  for (const [i, r] of results.entries()) {
    const [args, message, help] = cases[i]
    assert.equal(r.code, 2, JSON.stringify(args))
    assert.equal(r.stderr, `error: ${message}\nRun ${help} for usage.\n`, JSON.stringify(args))
  }
})

test('options of other tools get what to type instead, and their value is never printed', async (t) => {
  const server = await fake(t)
  const secret = 'api-0123456789abcdef-secret'
  const cases = [
    [['status', 'web', 'checkout', '--token', secret], 'unknown option --token: use --access-token <token> (or set LD_ACCESS_TOKEN)', "'ld-release status --help'"],
    [['--api-key', secret, 'status', 'web', 'checkout'], 'unknown option --api-key: use --access-token <token> (or set LD_ACCESS_TOKEN)', "'ld-release --help'"],
    [['status', 'web', 'checkout', `--API-KEY=${secret}`], 'unknown option --API-KEY: use --access-token <token> (or set LD_ACCESS_TOKEN)', "'ld-release status --help'"],
    [['status', 'web', 'checkout', '--base-url', 'http://127.0.0.1:1'], 'unknown option --base-url: use --base-uri <url> (or set LD_BASE_URI)', "'ld-release status --help'"],
    [['status', '--project', 'web', 'checkout'], 'unknown option --project: the project is an argument: ld-release status <project> <flag>', "'ld-release status --help'"],
    [['complete', 'web', '--flag', 'checkout', '0'], 'unknown option --flag: the flag is an argument: ld-release complete <project> <flag> <phase>', "'ld-release complete --help'"],
    [['complete-many', '--project', 'web'], 'unknown option --project: each item of --file names its own: { projectKey, flagKey, phase }', "'ld-release complete-many --help'"],
    [['demo', '--project', 'web'], 'unknown option --project: the project is an argument of the commands that take one, e.g. ld-release status <project> <flag>', "'ld-release demo --help'"],
    [['create', 'web', 'checkout', '--pipeline-key', 'standard-rollout'], 'unknown option --pipeline-key: use --pipeline <key>', "'ld-release create --help'"],
    [['advance', 'web', '--pipeline-key', 'standard-rollout'], 'unknown option --pipeline-key: the pipeline is an argument: ld-release advance <project> <pipeline>', "'ld-release advance --help'"],
    [['status', 'web', 'checkout', '--output', 'json'], 'unknown option --output: use --json (for JSON output)', "'ld-release status --help'"],
    [['status', 'web', 'checkout', '--max-retries', '2'], 'unknown option --max-retries: use --retries <n>', "'ld-release status --help'"],
  ]
  const results = await Promise.all(cases.map(([args]) => cli(args, { env: { LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url } })))
  for (const [i, r] of results.entries()) {
    const [args, message, help] = cases[i]
    assert.equal(r.code, 2, JSON.stringify(args))
    assert.equal(r.stderr, `error: ${message}\nRun ${help} for usage.\n`, JSON.stringify(args))
    assert.equal(r.stdout, '')
    assertNoSecretIn(r.stderr, 'stderr', secret)
  }
  assert.equal(server.requests.length, 0)
})

test('a negative number is a value: -1 as a phase is a bad phase, exit 2, and nothing is sent', async (t) => {
  const server = await fake(t)
  for (const command of ['complete', 'reopen', 'start']) {
    for (const phase of ['-1', '-2.5']) {
      const r = await cli([command, 'web', 'checkout', phase, ...auth(server)])
      assert.equal(r.code, 2, `${command} ${phase}: ${r.stderr}`)
      assert.equal(r.stderr, `error: phase must be an integer from 0 to 4294967295, got "${phase}"\nRun 'ld-release ${command} --help' for usage.\n`)
    }
  }
  const dry = await cli(['complete', 'web', 'checkout', '--dry-run', '-1', ...auth(server)])
  assert.equal(dry.code, 2)
  assert.match(dry.stderr, /^error: phase must be an integer from 0 to 4294967295, got "-1"\n/)
  const timeout = await cli(['status', 'web', 'checkout', '--timeout', '-5', ...auth(server)])
  assert.equal(timeout.code, 2)
  assert.match(timeout.stderr, /^error: --timeout must be an integer from 1 to 3600000, got "-5"\n/)
  // A short option is still an option.
  assert.match((await cli(['complete', 'web', 'checkout', '-x', ...auth(server)])).stderr, /^error: unknown option -x\n/)
  assert.equal(server.requests.length, 0)
})

test('did-you-mean reaches exactly the distance limit for the length of the word, and no further', async () => {
  // One edit for a word of up to 3 characters, two up to 6, three beyond.
  const cases = [
    [['fak'], 'unknown command "fak" (did you mean fake?)'],
    [['fxk'], 'unknown command "fxk"'],
    [['rxopxn', 'web', 'checkout', '0'], 'unknown command "rxopxn" (did you mean reopen?)'],
    [['rxxpxn', 'web', 'checkout', '0'], 'unknown command "rxxpxn"'],
    [['pxpxlxnes', 'web'], 'unknown command "pxpxlxnes" (did you mean pipelines?)'],
    [['pxpxlxnxs', 'web'], 'unknown command "pxpxlxnxs"'],
    [['status', 'web', 'checkout', '--jsn'], 'unknown option --jsn (did you mean --json?)'],
    [['status', 'web', 'checkout', '--jxn'], 'unknown option --jxn'],
    [['status', 'web', 'checkout', '--vxrbxsx'], 'unknown option --vxrbxsx (did you mean --verbose?)'],
    [['status', 'web', 'checkout', '--vxrxxsx'], 'unknown option --vxrxxsx'],
  ]
  const results = await Promise.all(cases.map(([args]) => cli(args)))
  for (const [i, r] of results.entries()) {
    const [args, message] = cases[i]
    const help = args[0] === 'status' ? "'ld-release status --help'" : "'ld-release --help'"
    assert.equal(r.code, 2, JSON.stringify(args))
    assert.equal(r.stderr, `error: ${message}\nRun ${help} for usage.\n`, JSON.stringify(args))
  }
})

test('global options go before or after the command', async (t) => {
  const server = await fake(t)
  const orders = [
    ['--access-token', server.apiKey, 'status', 'web', 'checkout', '--base-uri', server.url],
    ['--access-token', server.apiKey, '--base-uri', server.url, 'status', 'web', 'checkout'],
    ['--json', `--base-uri=${server.url}`, 'status', `--access-token=${server.apiKey}`, 'web', 'checkout'],
    ['status', 'web', '--json', 'checkout', ...auth(server)],
  ]
  const results = []
  for (const args of orders) results.push(await cli(args))
  for (const [i, r] of results.entries()) assert.equal(r.code, 0, `${orders[i].join(' ')}: ${r.stderr}`)
  assert.match(results[0].stdout, /^Standard rollout \(standard-rollout\) · version 1\n/)
  assert.equal(results[1].stdout, results[0].stdout)
  assert.deepEqual(JSON.parse(results[2].stdout), server.getRelease('web', 'checkout'))
  assert.equal(results[3].stdout, results[2].stdout)
  assert.equal(server.requests.length, 4)
  // `--` ends the options: what follows is positional.
  const r = await cli(['complete', 'web', 'checkout', ...auth(server), '--', '--json'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^error: no phase named "--json"/)
})

test('errors name flags and environment variables, not library options', async (t) => {
  const server = await fake(t)
  const noToken = await cli(['complete', 'web', 'checkout', '0', '--base-uri', server.url])
  assert.equal(noToken.code, 2)
  assert.equal(
    noToken.stderr,
    "error: no LaunchDarkly access token: pass --access-token, or set LD_ACCESS_TOKEN or LAUNCHDARKLY_ACCESS_TOKEN (code ERR_LD_NO_API_KEY)\nRun 'ld-release complete --help' for usage.\n",
  )
  assert.equal(server.requests.length, 0)
  const insecure = [
    [['--base-uri', 'http://example.com'], {}, '--base-uri'],
    [[], { LD_BASE_URI: 'http://example.com' }, 'LD_BASE_URI'],
    [[], { LAUNCHDARKLY_API_HOST: 'http://example.com' }, 'LAUNCHDARKLY_API_HOST'],
    [['--base-uri', 'http://example.com'], { LD_BASE_URI: server.url }, '--base-uri'],
  ]
  for (const [args, env, named] of insecure) {
    const r = await cli(['status', 'web', 'checkout', '--access-token', TOKEN, ...args], { env })
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, new RegExp(`^error: ${named} uses http: to a host that is not loopback \\(example\\.com\\); use https: \\(code ERR_LD_INSECURE_URL\\)\\n`))
    assert.doesNotMatch(r.stderr, /baseUrl|apiKey/)
    assert.doesNotMatch(r.stderr, new RegExp(TOKEN))
  }
  const notUrl = await cli(['status', 'web', 'checkout', '--access-token', TOKEN, '--base-uri', 'nope'])
  assert.equal(notUrl.code, 2)
  assert.match(notUrl.stderr, /^error: --base-uri is not a valid URL/)
  // The second variable is read too, and a wrong token is the API's answer: exit 1.
  const second = await cli(['status', 'web', 'checkout'], { env: { LAUNCHDARKLY_ACCESS_TOKEN: server.apiKey, LAUNCHDARKLY_API_HOST: server.url } })
  assert.equal(second.code, 0, second.stderr)
  const wrong = await cli(['status', 'web', 'checkout', '--access-token', 'api-wrong', '--base-uri', server.url])
  assert.equal(wrong.code, 1)
  assert.match(wrong.stderr, /\(code ERR_LD_UNAUTHORIZED, HTTP 401\)\n$/)
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
  // The release read, refused with 429 and sent again after the wait; the pipeline; the PATCH.
  assert.deepEqual(
    server.requests.map((q) => q.method),
    ['GET', 'GET', 'GET', 'PATCH'],
  )
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
  const ok = await cli(['complete-many', '--file', '-', '--json', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(ok.code, 1, ok.stderr)
  const results = JSON.parse(ok.stdout)
  assert.deepEqual(
    results.map(({ ok, projectKey, flagKey, phase, error }) => ({ ok, projectKey, flagKey, phase, code: error?.code, status: error?.status })),
    [
      { ok: true, projectKey: 'web', flagKey: 'a', phase: 0, code: undefined, status: undefined },
      { ok: true, projectKey: 'web', flagKey: 'b', phase: 1, code: undefined, status: undefined },
      { ok: false, projectKey: 'web', flagKey: 'missing', phase: 0, code: 'ERR_LD_NOT_FOUND', status: 404 },
    ],
  )
  assert.deepEqual(results[0].release, server.getRelease('web', 'a'))
})

test('complete-many takes phases by index, name or id:, each item through the library', async (t) => {
  const server = await fake(t, {
    releases: ['a', 'b', 'c'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() })),
  })
  const ids = server.getRelease('web', 'a').phases.map((p) => p._id)
  const items = [
    { projectKey: 'web', flagKey: 'a', phase: 'Testing' },
    { projectKey: 'web', flagKey: 'a', phase: `id:${ids[1]}` },
    { projectKey: 'web', flagKey: 'a', phase: { name: 'Production' } },
    { projectKey: 'web', flagKey: 'b', phase: '2' },
    { projectKey: 'web', flagKey: 'b', phase: { id: ids[0] } },
    { projectKey: 'web', flagKey: 'c', phase: 'NoSuchPhase' },
    { projectKey: 'web', flagKey: 'missing', phase: 'Testing' },
    { projectKey: 'web', flagKey: 'c', phase: 'id:' },
    { projectKey: 'web', flagKey: 'c', phase: 1, complete: false },
  ]
  const r = await cli(['complete-many', '--file', '-', '--json', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(r.code, 1, r.stderr)
  const results = JSON.parse(r.stdout)
  assert.deepEqual(results.map((x) => [x.ok, x.projectKey, x.flagKey, x.phase]), items.map((it, i) => [![5, 6, 7].includes(i), it.projectKey, it.flagKey, it.phase]))
  assert.deepEqual(server.getRelease('web', 'a').phases.map((p) => p.complete), [true, true, true])
  assert.deepEqual(server.getRelease('web', 'b').phases.map((p) => p.complete), [true, false, true])
  assert.deepEqual(server.getRelease('web', 'c').phases.map((p) => p.complete), [false, false, false])
  assert.equal(results[5].error.code, 'ERR_LD_INVALID_ARGUMENT')
  assert.equal(results[5].error.message, 'no phase named "NoSuchPhase"; the phases are 0: "Testing", 1: "Staging", 2: "Production"')
  assert.deepEqual([results[6].error.code, results[6].error.status], ['ERR_LD_NOT_FOUND', 404])
  assert.match(results[7].error.message, /^items\[7\]\.phase: phase id must not be empty$/)
  // Each item sent reads its release (the library's completePhase does), the client
  // reads their pipeline once, then one PATCH per item that can be changed.
  const reads = server.requests.filter((q) => q.method === 'GET').map((q) => q.path.split('/')[5])
  assert.deepEqual(reads.sort(), ['a', 'a', 'a', 'b', 'b', 'c', 'c', 'missing', 'release-pipelines'])
  const patches = server.requests.filter((q) => q.method === 'PATCH')
  assert.equal(patches.length, 6)
  // Phases found by name or id are sent with the guard the library's completePhase uses.
  const guarded = patches.filter((q) => q.json[0].op === 'test')
  assert.equal(guarded.length, 4)
  for (const q of guarded) {
    const index = Number(q.json[1].path.split('/')[2])
    assert.deepEqual(q.json, [
      { op: 'test', path: `/phases/${index}/_id`, value: ids[index] },
      { op: 'replace', path: `/phases/${index}/complete`, value: true },
    ])
  }
  // Text output labels them as given.
  server.setRelease('web', 'a', sampleRelease())
  const text = await cli(['complete-many', '--file', '-', ...auth(server)], { input: JSON.stringify(items.slice(0, 2)) })
  assert.equal(text.code, 0, text.stderr)
  assert.equal(text.stdout, `✓ web/a phase "Testing"\n✓ web/a phase id:${ids[1]}\n`)
})

test('complete-many: a release that changed between the read and the write is not changed', async (t) => {
  const server = await fake(t, { releases: [{ projectKey: 'web', flagKey: 'a', release: sampleRelease() }] })
  server.injectFault({ match: { method: 'PATCH' }, delayMs: 1000 })
  const run = cli(['complete-many', '--file', '-', '--json', ...auth(server)], { input: JSON.stringify([{ projectKey: 'web', flagKey: 'a', phase: 'Staging' }]) })
  // Once the PATCH has arrived (the fake holds it for a second), reorder the phases.
  for (let i = 0; i < 500 && !server.requests.some((q) => q.method === 'PATCH'); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  const moved = sampleRelease()
  moved.phases.unshift(moved.phases.pop())
  server.setRelease('web', 'a', moved)
  const r = await run
  assert.equal(r.code, 1, r.stderr)
  const [result] = JSON.parse(r.stdout)
  assert.equal(result.ok, false)
  assert.equal(result.error.code, 'ERR_LD_CONFLICT')
  assert.match(result.error.message, /^The release of web\/a changed while phase "6650a1b2c3d4e5f607182931" was being completed: index 1 now holds "Testing"; nothing was changed$/)
  assert.deepEqual(server.getRelease('web', 'a').phases.map((p) => p.complete), [false, false, false])
})

test('complete-many --dry-run previews every write as the library plans it, and sends none', async (t) => {
  const server = await fake(t, { releases: [{ projectKey: 'web', flagKey: 'a', release: sampleRelease() }] })
  const items = [
    { projectKey: 'web', flagKey: 'a', phase: 0 },
    { projectKey: 'web', flagKey: 'a', phase: 'Production', complete: false },
    { projectKey: 'web', flagKey: 'a', phase: 'Nope' },
  ]
  const r = await cli(['complete-many', '--file', '-', '--dry-run', '--json', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(r.code, 1, r.stderr)
  // The reads the real run makes: each item's release, the pipeline once.
  assert.deepEqual(server.requests.map((q) => `${q.method} ${q.path}`).sort(), [
    'GET /api/v2/flags/web/a/release',
    'GET /api/v2/flags/web/a/release',
    'GET /api/v2/flags/web/a/release',
    'GET /api/v2/projects/web/release-pipelines/standard-rollout',
  ])
  const writes = JSON.parse(r.stdout)
  assert.deepEqual(JSON.parse(writes[0].request.body), [{ op: 'replace', path: '/phases/0/complete', value: true }])
  assert.deepEqual(JSON.parse(writes[1].request.body), [
    { op: 'test', path: '/phases/2/_id', value: server.getRelease('web', 'a').phases[2]._id },
    { op: 'replace', path: '/phases/2/complete', value: false },
  ])
  assert.equal(writes[1].request.url, `${server.url}/api/v2/flags/web/a/release`)
  assert.equal(writes[2].error.code, 'ERR_LD_INVALID_ARGUMENT')
  const text = await cli(['complete-many', '--file', '-', '--dry-run', ...auth(server)], { input: JSON.stringify(items.slice(0, 2)) })
  assert.equal(text.code, 0, text.stderr)
  assert.equal(text.stdout.match(/^PATCH /gm).length, 2)
  assert.equal(text.stderr, 'would send 2 PATCH requests; no item would fail; nothing was sent\n')
  const failing = await cli(['complete-many', '--file', '-', '--dry-run', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(failing.code, 1)
  assert.match(failing.stderr, /\nwould send 2 PATCH requests; 1 item would fail; nothing was sent\n$/)
  assert.equal(server.requests.filter((q) => q.method !== 'GET').length, 0)
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
  for (const command of ['status', 'complete', 'reopen', 'start', 'patch', 'complete-many', 'pipelines', 'pipeline', 'advance', 'demo', 'fake']) assert.match(help.stdout, new RegExp(`^ {2}${command} +\\S`, 'm'))
  for (const option of ['--access-token', '--base-uri', '--json', '--dry-run', '--timeout', '--retries', '--help', '--version']) assert.ok(help.stdout.includes(option), option)
  assert.match(help.stdout, /Exit codes: 0 success; 1 an API or network error; 2 a usage error [^]*; 3 the output could not be written/)
  assert.deepEqual((await cli(['-h'])).stdout, help.stdout)
  const complete = await cli(['complete', '--help'])
  assert.equal(complete.code, 0)
  assert.match(complete.stdout, /^Usage: ld-release complete <project> <flag> <phase> \[options\]\n\nMark a phase complete/)
  const advance = await cli(['advance', '--help'])
  assert.match(advance.stdout, /^Usage: ld-release advance <project> <pipeline> \[options\]\n\nMove every flag whose active phase is --from to the next phase/)
  assert.match(advance.stdout, /\n {2}--from <phase> +the phase whose flags move on: a 0-based index, a phase name, or id:<phase id> \(required\)\n/)
  assert.match((await cli(['pipelines', '--help'])).stdout, /^Usage: ld-release pipelines <project> \[options\]\n/)
  assert.match((await cli(['pipeline', '--help'])).stdout, /^Usage: ld-release pipeline <project> <pipeline> \[options\]\n/)
  const start = await cli(['start', '--help'])
  assert.match(start.stdout, /^Usage: ld-release start <project> <flag> <phase> \[options\]\n\nStart a phase, completing those before it on a new release pipeline/)
  const patch = await cli(['patch', '-h'])
  assert.match(patch.stdout, /^Usage: ld-release patch <project> <flag> \[options\]\n[^]*Options:\n {2}--data <json> +the JSON Patch: inline, @file.json, or - for stdin\n/)
  assert.equal((await cli(['--help', 'patch'])).stdout, patch.stdout, 'help before the command')
  // `help [command]`, as git and npm take it.
  const helpCommand = await cli(['help', 'patch'])
  assert.deepEqual(helpCommand, { ...helpCommand, code: 0, stdout: patch.stdout, stderr: '' })
  assert.equal((await cli(['help'])).stdout, help.stdout)
  assert.match(help.stdout, /^ {2}help +show a command's usage/m)
  assert.match((await cli(['help', '--help'])).stdout, /^Usage: ld-release help \[command\] \[options\]\n/)
  const typo = await cli(['help', 'complet'])
  assert.deepEqual(typo, { ...typo, code: 2, stdout: '', stderr: 'error: unknown command "complet" (did you mean complete?)\nRun \'ld-release --help\' for usage.\n' })
  const extra = await cli(['help', 'status', 'complete'])
  assert.equal(extra.code, 2)
  assert.match(extra.stderr, /^error: help takes \[command\], got 2 arguments\n/)
})

/** The options a command's help lists, as `--name`. */
const listedOptions = (help) => [...help.split('\nOptions:\n')[1].split('\n\n')[0].matchAll(/--([a-z-]+)/g)].map((m) => `--${m[1]}`)

test("each command's help lists exactly the options it takes", async () => {
  const general = (await cli(['--help'])).stdout
  // A command is one word, or two for the commands of a group (`rollout start`).
  const commands = [...general.split('Commands:\n')[1].split('\n\n')[0].matchAll(/^ {2}(\S+(?: [a-z]+)?) {2}/gm)].map((m) => m[1])
  const everyOption = ['--access-token', '--base-uri', '--timeout', '--retries', '--verbose', '--json', '--dry-run', '--data', '--file', '--concurrency', '--from', '--pipeline', '--variation', '--status', '--port', '--env', '--detach']
  const valued = new Set(['--access-token', '--base-uri', '--timeout', '--retries', '--data', '--file', '--concurrency', '--from', '--pipeline', '--variation', '--status', '--port', '--env'])
  const { parseCommandLine } = createRequire(import.meta.url)('../lib/cli/args.js')
  // Too many arguments, so nothing runs: the option is refused, or the arguments are.
  const line = (command, option) => [...command.split(' '), option, ...(valued.has(option) ? ['1'] : []), 'x', 'y', 'z', 'w', 'v']
  const refusal = (argv) => {
    try {
      parseCommandLine(argv)
    } catch (error) {
      return `error: ${error.message}`
    }
    assert.fail(`${argv.join(' ')} was accepted`)
  }
  const helps = await Promise.all(commands.map((command) => cli([...command.split(' '), '--help'])))
  for (const [i, command] of commands.entries()) {
    const listed = listedOptions(helps[i].stdout)
    // The whole table against the parser the binary uses, in this process...
    for (const option of everyOption) {
      const message = refusal(line(command, option))
      if (listed.includes(option)) assert.match(message, new RegExp(`^error: ${command} takes `), `${command} ${option}: ${message}`)
      else assert.match(message, new RegExp(`^error: ${command} does not take ${option}`), `${command} ${option}: ${message}`)
    }
    // ...and through the binary, an option it takes and one it does not.
    const taken = everyOption.find((o) => listed.includes(o))
    const other = everyOption.find((o) => !listed.includes(o))
    const runs = await Promise.all([taken, other].filter(Boolean).map((option) => cli(line(command, option)).then((r) => ({ option, r }))))
    for (const { option, r } of runs) {
      assert.equal(r.code, 2, `${command} ${option}`)
      assert.equal(r.stderr.split('\n')[0], refusal(line(command, option)), `${command} ${option}`)
    }
  }
  // The commands that never talk to LaunchDarkly list none of its options.
  for (const command of ['demo', 'fake']) {
    const listed = listedOptions((await cli([command, '--help'])).stdout)
    for (const option of ['--json', '--dry-run', '--access-token', '--base-uri']) assert.ok(!listed.includes(option), `${command} lists ${option}`)
  }
})

test('demo runs through the binary: exit 0, nothing on stderr, the guarded release last (its steps: cli-main.test.mjs)', async () => {
  const r = await cli(['demo'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /^A fake LaunchDarkly is listening on http:\/\/127\.0\.0\.1:\d+, /)
  assert.match(r.stdout, /\nld-release exits 4: reverted, so a deploy pipeline fails here\.\n$/)
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

/** Starts `ld-release fake …` and resolves once it has printed both variables. */
async function startFakeCommand(t, args = []) {
  const child = spawn(process.execPath, [BIN, 'fake', ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  t.after(() => {
    clearTimeout(killer)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const exited = once(child, 'exit')
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const vars = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d
      const found = Object.fromEntries([...stdout.matchAll(/^export (LD_BASE_URI|LD_ACCESS_TOKEN)='(\S+)'$/gm)].map((m) => [m[1], m[2]]))
      if (found.LD_BASE_URI && found.LD_ACCESS_TOKEN) resolve(found)
    })
    exited.then(([code]) => reject(new Error(`ld-release fake exited ${code} before printing its variables: ${stderr}`)))
  })
  return { child, vars, exited, output: () => ({ stdout, stderr }) }
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  test(`fake serves sample releases until ${signal}, then exits 0`, async (t) => {
    const { child, vars, exited, output } = await startFakeCommand(t)
    assert.match(vars.LD_BASE_URI, /^http:\/\/127\.0\.0\.1:\d+$/)
    const status = await cli(['status', 'web', 'new-checkout'], { env: vars })
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, /^Standard rollout \(standard-rollout\) · version 1\n/)
    const done = await cli(['complete', 'web', 'new-checkout', 'Testing', '--json'], { env: vars })
    assert.equal(done.code, 0, done.stderr)
    assert.equal(JSON.parse(done.stdout).phases[0].complete, true)
    // The release of a new pipeline: completing its first phase starts the second.
    const moved = await cli(['complete', 'web', 'progressive-checkout', 'QA', '--json'], { env: vars })
    assert.equal(moved.code, 0, moved.stderr)
    assert.deepEqual(JSON.parse(moved.stdout).phases.map((p) => p.status), ['completed', 'active', 'not-started'])
    const wrong = await cli(['status', 'web', 'new-checkout'], { env: { ...vars, LD_ACCESS_TOKEN: 'api-not-the-token' } })
    assert.equal(wrong.code, 1, 'the fake checks the token it printed')
    child.kill(signal)
    const [code] = await exited
    assert.equal(code, 0)
    const { stdout, stderr } = output()
    // Lines sh runs as they are (`export`), and a hint that runs from a clone or a project.
    assert.equal(stdout, `export LD_BASE_URI='${vars.LD_BASE_URI}'\nexport LD_ACCESS_TOKEN='${vars.LD_ACCESS_TOKEN}'\n`)
    assert.match(
      stderr,
      /^A fake LaunchDarkly is listening on http:\/\/127\.0\.0\.1:\d+, holding 5 releases: web\/new-checkout, web\/dark-mode, web\/search-v2 \(legacy pipeline standard-rollout\); web\/progressive-checkout, web\/progressive-search \(new pipeline progressive-rollout\)\.\n/,
    )
    assert.match(stderr, /\nIn the shell that runs the commands, run these lines \(or, instead of this command, eval "\$\(npx ld-release fake --detach\)"\):\n/)
    assert.match(stderr, /\nthen try: npx ld-release status web new-checkout\n {6}or: npx ld-release complete web progressive-checkout QA --dry-run\n/)
    // status; complete by name (the release, its pipeline, the PATCH); complete by name on
    // the new pipeline (the release, its pipeline, the PUT); status with a wrong token.
    assert.match(stderr, new RegExp(`\\n${signal}: stopped after 8 requests\\.\\n$`))
    // Closed: nothing listens there any more.
    const after = await cli(['status', 'web', 'new-checkout', '--retries', '0'], { env: vars })
    assert.equal(after.code, 1)
    assert.match(after.stderr, /code ERR_LD_NETWORK/)
  })
}

test('fake --port listens on that port, and a port in use is a usage error', async (t) => {
  const port = await deadPort()
  const { child, vars, exited } = await startFakeCommand(t, ['--port', String(port)])
  assert.equal(vars.LD_BASE_URI, `http://127.0.0.1:${port}`)
  const taken = await cli(['fake', '--port', String(port)])
  assert.equal(taken.code, 2)
  assert.match(taken.stderr, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*\\nRun 'ld-release fake --help' for usage\\.\\n$`))
  child.kill('SIGTERM')
  assert.equal((await exited)[0], 0)
})

/** Resolves once process `pid` is gone (or rejects after 10 s). */
async function gone(pid) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
    try {
      process.kill(pid, 0)
    } catch {
      return
    }
  }
  throw new Error(`process ${pid} still runs`)
}

/** Runs `script` with `shell` (`sh -c`), in this checkout; resolves to { code, stdout, stderr }. */
function shell(command, script, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['-c', script], { env: cleanEnv({ BIN, NODE: process.execPath, ...env }), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

test('eval "$(ld-release fake --detach)" points the shell at a fake in the background, which kill "$LD_FAKE_PID" stops', { skip: process.platform === 'win32' && 'a POSIX shell' }, async (t) => {
  const script = [
    'eval "$("$NODE" "$BIN" fake --detach)" || exit 9',
    'echo "pid=$LD_FAKE_PID"',
    '"$NODE" "$BIN" status web dark-mode || exit 10',
    '"$NODE" "$BIN" complete web search-v2 Staging --json > /dev/null || exit 11',
    '"$NODE" "$BIN" start web progressive-search Beta --json > /dev/null || exit 12',
    '"$NODE" "$BIN" status web search-v2 || exit 13',
    'kill "$LD_FAKE_PID"',
  ].join('\n')
  const r = await shell('sh', script)
  const pid = Number(/^pid=(\d+)$/m.exec(r.stdout)?.[1])
  t.after(() => {
    if (pid) try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
  })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(pid > 0, r.stdout)
  assert.match(r.stdout, /\n {2}1 ✓ Staging /, 'search-v2 moved on')
  assert.match(r.stderr, /^A fake LaunchDarkly is listening on http:\/\/127\.0\.0\.1:\d+ in the background \(process \d+\), holding 5 releases: /)
  assert.match(r.stderr, /\nthen try: npx ld-release status web new-checkout\n[^]*\nkill "\$LD_FAKE_PID" stops it\.\n/)
  await gone(pid)
})

test('fake --env prints lines for fish, PowerShell and dotenv files; a dotenv file works with node --env-file', async (t) => {
  const detached = async (env) => {
    const r = await cli(['fake', '--detach', '--env', env])
    assert.equal(r.code, 0, r.stderr)
    const pid = Number(/LD_FAKE_PID\W+(\d+)/.exec(r.stdout)?.[1])
    assert.ok(pid > 0, r.stdout)
    t.after(() => {
      try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
    })
    if (existsSync(`/proc/${pid}/stat`)) {
      // In a process group of its own (a Ctrl-C in the shell that started it does not
      // stop it), and reading nothing.
      assert.equal(Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[2]), pid)
      assert.equal(readlinkSync(`/proc/${pid}/fd/0`), '/dev/null')
    }
    return { ...r, pid }
  }
  const dotenv = await detached('dotenv')
  assert.match(dotenv.stdout, /^LD_BASE_URI=http:\/\/127\.0\.0\.1:\d+\nLD_ACCESS_TOKEN=api-fake-[0-9a-f]+\nLD_FAKE_PID=\d+\n$/)
  assert.match(dotenv.stderr, new RegExp(`\\nkill ${dotenv.pid} stops it\\.\\n$`))
  const dir = mkdtempSync(join(tmpdir(), 'ld-release-env-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'fake.env'), dotenv.stdout)
  const status = await new Promise((resolve) => {
    const child = spawn(process.execPath, [`--env-file=${join(dir, 'fake.env')}`, BIN, 'status', 'web', 'progressive-checkout'], { env: cleanEnv() })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.on('close', (code) => resolve({ code, stdout }))
  })
  assert.equal(status.code, 0)
  assert.match(status.stdout, /^Progressive rollout \(progressive-rollout\)/)
  process.kill(dotenv.pid, 'SIGTERM')
  await gone(dotenv.pid)

  const fish = await detached('fish')
  assert.match(fish.stdout, /^set -gx LD_BASE_URI 'http:\/\/127\.0\.0\.1:\d+'\nset -gx LD_ACCESS_TOKEN 'api-fake-[0-9a-f]+'\nset -gx LD_FAKE_PID '\d+'\n$/)
  assert.match(fish.stderr, /\nkill \$LD_FAKE_PID stops it\.\n$/)
  process.kill(fish.pid, 'SIGTERM')
  await gone(fish.pid)
  const pwsh = await detached('powershell')
  assert.match(pwsh.stdout, /^\$env:LD_BASE_URI = 'http:\/\/127\.0\.0\.1:\d+'\n\$env:LD_ACCESS_TOKEN = 'api-fake-[0-9a-f]+'\n\$env:LD_FAKE_PID = '\d+'\n$/)
  assert.match(pwsh.stderr, /\nStop-Process -Id \$env:LD_FAKE_PID stops it\.\n$/)
  process.kill(pwsh.pid, 'SIGTERM')
  await gone(pwsh.pid)

  const bad = await cli(['fake', '--env', 'fsh'])
  assert.equal(bad.code, 2)
  assert.equal(bad.stderr, 'error: --env must be sh, fish, powershell or dotenv, got "fsh" (did you mean sh?)\nRun \'ld-release fake --help\' for usage.\n')
})

/** The path of `command` on PATH, or undefined. */
function onPath(command) {
  for (const dir of (process.env.PATH ?? '').split(process.platform === 'win32' ? ';' : ':')) {
    for (const ext of process.platform === 'win32' ? ['.exe', '.cmd', ''] : ['']) {
      if (dir && existsSync(join(dir, command + ext))) return join(dir, command + ext)
    }
  }
  return undefined
}

for (const [shellName, env, script] of [
  ['fish', 'fish', ['"$NODE" "$BIN" fake --env fish --detach | source', 'echo "pid=$LD_FAKE_PID"', '"$NODE" "$BIN" status web dark-mode; or exit 10', 'kill $LD_FAKE_PID']],
  [
    'pwsh',
    'powershell',
    ['& $env:NODE $env:BIN fake --env powershell --detach | Invoke-Expression', 'echo "pid=$env:LD_FAKE_PID"', '& $env:NODE $env:BIN status web dark-mode', 'if ($LASTEXITCODE) { exit 10 }', 'Stop-Process -Id $env:LD_FAKE_PID'],
  ],
]) {
  test(`the lines of fake --env ${env} --detach load in ${shellName}, as the README says`, { skip: !onPath(shellName) && `${shellName} is not installed` }, async (t) => {
    const r = await shell(shellName, script.join('\n'))
    const pid = Number(/^pid=(\d+)$/m.exec(r.stdout)?.[1])
    t.after(() => {
      try {
        if (pid) process.kill(pid, 'SIGKILL')
      } catch {
        // gone
      }
    })
    assert.equal(r.code, 0, r.stderr)
    assert.ok(pid > 0, r.stdout)
    assert.match(r.stdout, /\nStandard rollout \(standard-rollout\) · version 1\n/)
    await gone(pid)
  })
}

test('fake --detach on a port in use fails with the fake\'s own error and exit code', async (t) => {
  const { child, vars, exited } = await startFakeCommand(t)
  const port = new URL(vars.LD_BASE_URI).port
  const r = await cli(['fake', '--detach', '--port', port])
  assert.equal(r.code, 2)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: [^\\n]*EADDRINUSE[^\\n]*\\nRun 'ld-release fake --help' for usage\\.\\n$`))
  child.kill('SIGTERM')
  assert.equal((await exited)[0], 0)
})

/** Runs the binary with its stdout going to `stdout` (a stdio value for spawn). */
function cliTo(stdout, args, { closeEarly = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(), stdio: ['ignore', stdout, 'pipe'] })
    // The reader goes away before the command writes anything.
    if (closeEarly) child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

test('a closed stdout is no failure of the command: exit 3, quietly, the change made', async (t) => {
  const server = await fake(t)
  const r = await cliTo('pipe', ['complete', 'web', 'checkout', '0', ...auth(server)], { closeEarly: true })
  assert.equal(r.code, 3)
  assert.equal(r.stderr, '')
  assert.equal(server.getRelease('web', 'checkout').phases[0].complete, true)
  const many = await cliTo('pipe', ['complete-many', '--file', '-', ...auth(server)], { closeEarly: true })
  assert.equal(many.code, 2, 'a usage error keeps its code')
  // An API failure keeps its code and its message.
  const missing = await cliTo('pipe', ['status', 'web', 'missing', ...auth(server)], { closeEarly: true })
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /^error: .*\(code ERR_LD_NOT_FOUND, HTTP 404\)\n$/)
})

test('a full disk on stdout: exit 3 with one line, no stack', { skip: !existsSync('/dev/full') && 'needs /dev/full' }, async (t) => {
  const server = await fake(t)
  const full = openSync('/dev/full', 'w')
  t.after(() => closeSync(full))
  const r = await cliTo(full, ['complete', 'web', 'checkout', '1', '--json', ...auth(server)])
  assert.equal(r.code, 3)
  assert.equal(r.stderr, 'error: cannot write the output: ENOSPC: no space left on device, write; the command itself succeeded\n')
  assert.equal(server.getRelease('web', 'checkout').phases[1].complete, true)
  const help = await cliTo(full, ['--help'])
  assert.equal(help.code, 3)
})

test('a full disk on stderr is no failure of the command: exit 0, the change made', { skip: !existsSync('/dev/full') && 'needs /dev/full' }, async (t) => {
  const server = await fake(t)
  const full = openSync('/dev/full', 'w')
  t.after(() => closeSync(full))
  // delete says what it did on stderr, and nothing on stdout.
  const code = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'delete', 'web', 'checkout', ...auth(server)], { env: cleanEnv(), stdio: ['ignore', 'ignore', full] })
    child.on('error', reject)
    child.on('close', resolve)
  })
  assert.equal(code, 0)
  assert.equal(server.getRelease('web', 'checkout'), undefined)
})

// Both kinds of release pipeline. `progressive` is a release of the fake's new pipeline
// (`progressive-rollout`): its phases move only forward, by starting the next one.

const NEW_IDS = sampleNewPipelineRelease().phases.map((p) => p._id)
const PIPELINE_PATH = '/api/v2/projects/web/release-pipelines/progressive-rollout'
const sent = (server) => server.requests.map((q) => `${q.method} ${q.path}`)
const phasePath = (flag, i) => `/api/v2/projects/web/flags/${flag}/release/phases/${NEW_IDS[i]}`

/** A fake holding the legacy sample at web/checkout and the new-pipeline sample at web/progressive. */
const bothKinds = (t) =>
  fake(t, {
    releases: [
      { projectKey: 'web', flagKey: 'checkout', release: sampleRelease() },
      { projectKey: 'web', flagKey: 'progressive', release: sampleNewPipelineRelease() },
    ],
  })

/**
 * A release of the new pipeline just created, in the shape LaunchDarkly answers: every
 * phase sparse (no `_creationDate`, no `_audiences`), the first `ready-to-start`, and no
 * `_version`, `releasePipelineDescription` or `_links`.
 */
function recordedFresh() {
  const phases = sampleNewPipelineRelease().phases.map(({ _id, _name }, i) => ({ _id, _name, complete: false, status: i === 0 ? 'ready-to-start' : 'not-started', started: false }))
  return { name: 'Progressive rollout', releasePipelineKey: 'progressive-rollout', phases, _releaseVariationId: 'e432f97a-1d0c-4d3b-9a4c-4bd1e8f0a3b2' }
}

test('status draws a sparse release in LaunchDarkly words, and a new pipeline whose last phase is active as finished', async (t) => {
  const server = await fake(t, { releases: [{ projectKey: 'web', flagKey: 'fresh', release: recordedFresh() }] })
  const fresh = await cli(['status', 'web', 'fresh', ...auth(server)])
  assert.equal(fresh.code, 0, fresh.stderr)
  assert.equal(
    fresh.stdout,
    ['Progressive rollout (progressive-rollout)', '  0 ○ QA                    ready-to-start', '  1 ○ Beta                  waiting', '  2 ○ General availability  waiting', ''].join('\n'),
  )
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/fresh/release'], 'nothing else to read for an unfinished release')

  // Starting the last phase completes the others and finishes the release: the drawing
  // reads the pipeline to know that an active last phase means finished.
  server.clearRequests()
  const started = await cli(['start', 'web', 'fresh', '2', ...auth(server)])
  assert.equal(started.code, 0, started.stderr)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/fresh/release', `PUT ${phasePath('fresh', 2)}`, `GET ${PIPELINE_PATH}`])
  const lines = started.stdout.trimEnd().split('\n')
  assert.equal(lines[0], 'Progressive rollout (progressive-rollout)', 'no version where the answer has none')
  assert.match(lines[1], /^ {2}0 ✓ QA {20}started \S+ \S+ UTC · completed \S+ \S+ UTC by fake token · test$/)
  assert.match(lines[3], /^ {2}2 ✓ General availability {2}started (\S+ \S+ UTC) · production$/)
  assert.equal(lines[4], `  finished ${lines[3].match(/started (\S+ \S+ UTC)/)[1]}: its last phase is active`)
  assert.equal(lines.length, 5)

  server.clearRequests()
  const status = await cli(['status', 'web', 'fresh', ...auth(server)])
  assert.equal(status.stdout, started.stdout)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/fresh/release', `GET ${PIPELINE_PATH}`])
  // --json prints the Release alone, and reads nothing more.
  server.clearRequests()
  const json = await cli(['status', 'web', 'fresh', '--json', ...auth(server)])
  assert.deepEqual(JSON.parse(json.stdout), server.getRelease('web', 'fresh'))
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/fresh/release'])
  // When the pipeline cannot be read, the release is drawn as it is, and status still succeeds.
  for (const status of [403, 500]) {
    server.injectFault({ match: { path: PIPELINE_PATH }, status })
    const unread = await cli(['status', 'web', 'fresh', ...auth(server)])
    assert.equal(unread.code, 0, unread.stderr)
    assert.equal(unread.stderr, '')
    assert.match(unread.stdout, /\n {2}2 ● General availability {2}started .* · production\n$/, `pipeline read answered ${status}`)
  }
})

test('status draws a legacy release whose last phase is active as it is (its pipeline read says legacy), and reads no pipeline for a release that names none', async (t) => {
  const active = (release) => ({ ...release, phases: release.phases.map((p, i, all) => ({ ...p, complete: i < all.length - 1, status: i < all.length - 1 ? 'completed' : 'active', started: true })) })
  const named = active(sampleRelease())
  const unnamed = active(sampleRelease())
  delete unnamed.releasePipelineKey
  const server = await fake(t, {
    releases: [
      { projectKey: 'web', flagKey: 'legacy', release: named },
      { projectKey: 'web', flagKey: 'unnamed', release: unnamed },
    ],
  })
  const legacy = await cli(['status', 'web', 'legacy', ...auth(server)])
  assert.equal(legacy.code, 0, legacy.stderr)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/legacy/release', `GET /api/v2/projects/web/release-pipelines/${named.releasePipelineKey}`])
  assert.doesNotMatch(legacy.stdout, /finished/)
  assert.match(legacy.stdout.trimEnd().split('\n').at(-1), /^ {2}2 ● Production/)

  server.clearRequests()
  const none = await cli(['status', 'web', 'unnamed', ...auth(server)])
  assert.equal(none.code, 0, none.stderr)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/unnamed/release'])
  assert.doesNotMatch(none.stdout, /finished/)
})

test('complete on a new pipeline starts the next phase, by index, name or id:', async (t) => {
  const server = await bothKinds(t)
  const byIndex = await cli(['complete', 'web', 'progressive', '0', ...auth(server)])
  assert.equal(byIndex.code, 0, byIndex.stderr)
  // The release and its pipeline, read; the next phase started; no PATCH.
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release', `GET ${PIPELINE_PATH}`, `PUT ${phasePath('progressive', 1)}`])
  assert.equal(server.requests[2].body, '{"status":"active"}')
  assert.match(byIndex.stdout, /\n {2}0 ✓ QA {20}started .* · completed .* by fake token · test\n {2}1 ● Beta {18}started .* · staging\n {2}2 ○ General availability {2}waiting\n$/)

  server.clearRequests()
  const byName = await cli(['complete', 'web', 'progressive', 'Beta', '--json', ...auth(server)])
  assert.equal(byName.code, 0, byName.stderr)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release', `GET ${PIPELINE_PATH}`, `PUT ${phasePath('progressive', 2)}`], 'no PATCH')
  assert.deepEqual(JSON.parse(byName.stdout), server.getRelease('web', 'progressive'))
  assert.deepEqual(JSON.parse(byName.stdout).phases.map((p) => p.status), ['completed', 'completed', 'active'])

  // A phase already complete: nothing to write, the release drawn as it is (finished).
  server.clearRequests()
  const again = await cli(['complete', 'web', 'progressive', `id:${NEW_IDS[0]}`, ...auth(server)])
  assert.equal(again.code, 0, again.stderr)
  assert.ok(server.requests.every((q) => q.method === 'GET'), sent(server).join('\n'))
  assert.match(again.stdout, /\n {2}finished .*: its last phase is active\n$/)
})

test('the last phase of a new pipeline cannot be completed, nor a phase reopened: exit 1, ERR_LD_UNSUPPORTED, nothing written', async (t) => {
  const server = await bothKinds(t)
  const before = server.getRelease('web', 'progressive')
  const last =
    'error: Phase 2 ("General availability") is the last phase of the release of web/progressive, in release pipeline "progressive-rollout" of the new kind: ' +
    'LaunchDarkly has no call that completes a last phase (a release is finished once its last phase is active; use ld-release start). Nothing was changed (code ERR_LD_UNSUPPORTED)\n'
  for (const phase of ['General availability', `id:${NEW_IDS[2]}`]) {
    server.clearRequests()
    const r = await cli(['complete', 'web', 'progressive', phase, ...auth(server)])
    assert.deepEqual([r.code, r.stdout, r.stderr], [1, '', last], phase)
    assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release', `GET ${PIPELINE_PATH}`], 'only reads')
  }
  // By index the same: only reads, then the refusal.
  server.clearRequests()
  const byIndex = await cli(['complete', 'web', 'progressive', '2', ...auth(server)])
  assert.deepEqual([byIndex.code, byIndex.stderr], [1, last])
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release', `GET ${PIPELINE_PATH}`])
  for (const phase of ['QA', '1']) {
    server.clearRequests()
    const r = await cli(['reopen', 'web', 'progressive', phase, ...auth(server)])
    assert.equal(r.code, 1, r.stderr)
    assert.equal(
      r.stderr,
      'error: The release of web/progressive is in release pipeline "progressive-rollout", of the new kind, whose phases only move forward: a phase cannot be reopened. Nothing was changed (code ERR_LD_UNSUPPORTED)\n',
    )
    assert.ok(server.requests.every((q) => q.method === 'GET'), sent(server).join('\n'))
  }
  assert.deepEqual(server.getRelease('web', 'progressive'), before, 'the release is as it was')
})

test('a --dry-run of complete on a new pipeline previews the PUT the call sends, or fails as it does', async (t) => {
  const server = await bothKinds(t)
  const dry = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', ...auth(server)])
  assert.equal(dry.code, 0, dry.stderr)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release', `GET ${PIPELINE_PATH}`])
  assert.equal(
    dry.stderr,
    '(read from the release and its pipeline: "progressive-rollout" is a new release pipeline, whose phases only move forward: completing phase 0 ("QA") starts phase 1 ("Beta"))\n',
  )
  const previewed = parsePreview(dry.stdout, server)
  assert.deepEqual([previewed.method, previewed.path, previewed.body], ['PUT', phasePath('progressive', 1), '{"status":"active"}'])
  // By index, the same PUT and the same words.
  const byIndex = await cli(['complete', 'web', 'progressive', '0', '--dry-run', ...auth(server)])
  assert.equal(byIndex.stdout, dry.stdout)
  assert.equal(byIndex.stderr, dry.stderr)
  const json = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', '--json', ...auth(server)])
  assert.deepEqual(JSON.parse(json.stdout), { method: 'PUT', url: server.url + previewed.path, headers: JSON.parse(json.stdout).headers, body: '{"status":"active"}' })
  assert.equal(JSON.parse(json.stdout).headers.Authorization, `****${TOKEN.slice(-4)}`)

  server.clearRequests()
  const real = await cli(['complete', 'web', 'progressive', 'QA', ...auth(server)])
  assert.equal(real.code, 0, real.stderr)
  const put = server.requests.find((q) => q.method === 'PUT')
  const { host, 'content-length': length, ...headers } = put.headers
  assert.ok(host && Number(length) === Buffer.byteLength(put.body))
  assert.deepEqual({ ...previewed, headers: { ...previewed.headers, authorization: undefined } }, { method: put.method, path: put.path, headers: { ...headers, authorization: undefined }, body: put.body })

  // Now QA is complete: the call writes nothing, and its dry run prints no request.
  server.clearRequests()
  const done = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', ...auth(server)])
  assert.deepEqual([done.code, done.stdout], [0, ''])
  assert.match(done.stderr, /phase 0 \("QA"\) is already complete: the call writes nothing and prints the release as it is\)\n$/)
  const doneJson = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', '--json', ...auth(server)])
  assert.equal(doneJson.stdout, 'null\n')
  assert.ok(server.requests.every((q) => q.method === 'GET'))

  // What the call cannot do, its dry run fails with, exactly as the call does.
  for (const args of [
    ['complete', 'web', 'progressive', 'General availability'],
    ['complete', 'web', 'progressive', '2'],
    ['reopen', 'web', 'progressive', 'QA'],
    ['reopen', 'web', 'progressive', '0'],
  ]) {
    server.clearRequests()
    const preview = await cli([...args, '--dry-run', ...auth(server)])
    assert.ok(server.requests.every((q) => q.method === 'GET'), `${args.join(' ')} --dry-run only reads`)
    const call = await cli([...args, ...auth(server)])
    assert.deepEqual([preview.code, preview.stdout, preview.stderr], [1, '', call.stderr], args.join(' '))
    assert.match(call.stderr, /\(code ERR_LD_UNSUPPORTED\)\n$/)
  }
})

test('a --dry-run of complete shows the PATCH when the pipeline may not be read, and fails when the read fails', async (t) => {
  const server = await bothKinds(t)
  // Refused (403): the call sends the guarded PATCH, as to a legacy pipeline; the fake refuses it.
  server.injectFault({ match: { path: PIPELINE_PATH }, status: 403, times: 2 })
  const dry = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', ...auth(server)])
  assert.equal(dry.code, 0, dry.stderr)
  assert.match(dry.stderr, /\n\(the kind of release pipeline "progressive-rollout" could not be read: the call sends the PATCH, as to a legacy release pipeline\)\n$/)
  const previewed = parsePreview(dry.stdout, server)
  assert.deepEqual(JSON.parse(previewed.body), [
    { op: 'test', path: '/phases/0/_id', value: NEW_IDS[0] },
    { op: 'replace', path: '/phases/0/complete', value: true },
  ])
  server.clearRequests()
  const real = await cli(['complete', 'web', 'progressive', 'QA', '--retries', '0', ...auth(server)])
  assert.equal(real.code, 1)
  assert.match(real.stderr, /\(code ERR_LD_BAD_REQUEST, HTTP 400\)\n$/)
  const patch = server.requests.find((q) => q.method === 'PATCH')
  assert.deepEqual([patch.path, patch.body], [previewed.path, previewed.body])

  // A read that fails otherwise fails the call, and the dry run with it.
  server.injectFault({ match: { path: PIPELINE_PATH }, status: 500, times: 2 })
  const failedDry = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', '--retries', '0', ...auth(server)])
  const failedReal = await cli(['complete', 'web', 'progressive', 'QA', '--retries', '0', ...auth(server)])
  for (const r of [failedDry, failedReal]) {
    assert.equal(r.code, 1)
    assert.match(r.stderr, /\(code ERR_LD_SERVER, HTTP 500\)\n$/)
  }
  assert.match(failedDry.stderr, /^error: LaunchDarkly answered 500 Internal Server Error to GET \/api\/v2\/projects\/web\/release-pipelines\/progressive-rollout: /)
  // A 503 is retried, as the library retries it.
  server.injectFault({ match: { path: PIPELINE_PATH }, status: 503 })
  server.clearRequests()
  const retried = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', ...auth(server)])
  assert.equal(retried.code, 0, retried.stderr)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release', `GET ${PIPELINE_PATH}`, `GET ${PIPELINE_PATH}`])
  assert.equal(parsePreview(retried.stdout, server).method, 'PUT')
  assert.ok(server.requests.every((q) => q.method === 'GET'), 'a dry run only reads')
})

test('start sets a phase active, by index, name or id:; its --dry-run reads only what it needs', async (t) => {
  const server = await bothKinds(t)
  // By id: the PUT, previewed with no read.
  const byId = await cli(['start', 'web', 'progressive', `id:${NEW_IDS[1]}`, '--dry-run', ...auth(server)])
  assert.equal(byId.code, 0, byId.stderr)
  assert.deepEqual(sent(server), [])
  assert.equal(byId.stderr, '')
  const previewed = parsePreview(byId.stdout, server)
  assert.deepEqual([previewed.method, previewed.path, previewed.body], ['PUT', phasePath('progressive', 1), '{"status":"active"}'])
  // By name or index: the release is read to find the phase's id.
  for (const phase of ['Beta', '1']) {
    server.clearRequests()
    const dry = await cli(['start', 'web', 'progressive', phase, '--dry-run', ...auth(server)])
    assert.equal(dry.code, 0, dry.stderr)
    assert.equal(dry.stdout, byId.stdout)
    assert.equal(dry.stderr, '(read from the release: phase 1 is "Beta")\n')
    assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release'])
  }
  // A phase that is not there: exit 2, as the call itself.
  for (const phase of ['Gamma', '3']) {
    const dry = await cli(['start', 'web', 'progressive', phase, '--dry-run', ...auth(server)])
    const call = await cli(['start', 'web', 'progressive', phase, ...auth(server)])
    assert.deepEqual([dry.code, dry.stdout, dry.stderr], [2, '', call.stderr], phase)
    assert.equal(call.code, 2)
  }
  assert.match((await cli(['start', 'web', 'progressive', '3', ...auth(server)])).stderr, /^error: phase 3 does not exist: the release has 3 phases \(code ERR_LD_INVALID_ARGUMENT\)\n/)

  server.clearRequests()
  const real = await cli(['start', 'web', 'progressive', 'Beta', '--json', ...auth(server)])
  assert.equal(real.code, 0, real.stderr)
  assert.deepEqual(sent(server), ['GET /api/v2/flags/web/progressive/release', `PUT ${phasePath('progressive', 1)}`])
  assert.equal(server.requests[1].body, '{"status":"active"}')
  assert.deepEqual(JSON.parse(real.stdout).phases.map((p) => p.status), ['completed', 'active', 'not-started'])
  // On a legacy pipeline the same PUT starts the phase.
  const legacy = await cli(['start', 'web', 'checkout', 'Production', ...auth(server)])
  assert.equal(legacy.code, 0, legacy.stderr)
  assert.match(legacy.stdout, /\n {2}2 ● Production {2}started .* · production\n$/)
  assert.equal(server.requests.at(-1).method, 'PUT', 'a legacy last phase is not finished: nothing more to read')
})

test('complete-many moves phases of both kinds of pipeline, by name and by index, and previews each write', async (t) => {
  const server = await bothKinds(t)
  const items = [
    { projectKey: 'web', flagKey: 'checkout', phase: 'Testing' },
    { projectKey: 'web', flagKey: 'progressive', phase: 'QA' },
    { projectKey: 'web', flagKey: 'progressive', phase: 'General availability' },
    { projectKey: 'web', flagKey: 'progressive', phase: 0, complete: false },
  ]
  const dry = await cli(['complete-many', '--file', '-', '--dry-run', '--json', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(dry.code, 1, dry.stderr)
  assert.ok(server.requests.every((q) => q.method === 'GET'))
  const writes = JSON.parse(dry.stdout)
  assert.deepEqual(
    writes.map((w) => w.request?.method ?? w.error.code),
    ['PATCH', 'PUT', 'ERR_LD_UNSUPPORTED', 'ERR_LD_UNSUPPORTED'],
  )
  assert.equal(writes[1].request.url, server.url + phasePath('progressive', 1))
  assert.equal(writes[1].request.body, '{"status":"active"}')
  // One read per item's release, one per pipeline.
  assert.deepEqual(sent(server).sort(), [
    'GET /api/v2/flags/web/checkout/release',
    'GET /api/v2/flags/web/progressive/release',
    'GET /api/v2/flags/web/progressive/release',
    'GET /api/v2/flags/web/progressive/release',
    'GET /api/v2/projects/web/release-pipelines/progressive-rollout',
    'GET /api/v2/projects/web/release-pipelines/standard-rollout',
  ])
  const text = await cli(['complete-many', '--file', '-', '--dry-run', ...auth(server)], { input: JSON.stringify(items.slice(0, 2)) })
  assert.equal(text.code, 0, text.stderr)
  assert.equal(text.stderr, 'would send 1 PATCH request and 1 PUT request; no item would fail; nothing was sent\n')

  server.clearRequests()
  const r = await cli(['complete-many', '--file', '-', '--json', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(r.code, 1, r.stderr)
  const results = JSON.parse(r.stdout)
  assert.deepEqual(
    results.map((x) => (x.ok ? 'ok' : x.error.code)),
    ['ok', 'ok', 'ERR_LD_UNSUPPORTED', 'ERR_LD_UNSUPPORTED'],
  )
  assert.deepEqual(server.getRelease('web', 'progressive').phases.map((p) => p.status), ['completed', 'active', 'not-started'])
  assert.equal(server.getRelease('web', 'checkout').phases[0].complete, true)
  const writesSent = server.requests.filter((q) => q.method !== 'GET')
  // The guarded PATCH for the legacy release; the PUT of Beta for QA; the new pipeline
  // never gets the PATCH.
  assert.deepEqual(writesSent.map((q) => `${q.method} ${q.path}`).sort(), [
    'PATCH /api/v2/flags/web/checkout/release',
    `PUT ${phasePath('progressive', 1)}`,
  ])
})

test('the pipeline read is one of the library calls: it goes through the proxy, as every call does', async (t) => {
  const server = await bothKinds(t)
  // A forward proxy for plain-http targets, logging what goes through it.
  const seen = []
  const proxy = createServer((req, res) => {
    seen.push(`${req.method} ${req.url.replace(server.url, '')}`)
    const target = new URL(req.url)
    const upstream = httpRequest({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers)
      answer.pipe(res)
    })
    req.pipe(upstream)
  })
  proxy.listen(0, '127.0.0.1')
  await once(proxy, 'listening')
  t.after(() => {
    proxy.closeAllConnections()
    proxy.close()
  })
  const env = { HTTP_PROXY: `http://127.0.0.1:${proxy.address().port}`, http_proxy: '', NO_PROXY: '', no_proxy: '' }
  const dry = await cli(['complete', 'web', 'progressive', 'QA', '--dry-run', ...auth(server)], { env })
  assert.equal(dry.code, 0, dry.stderr)
  assert.equal(parsePreview(dry.stdout, server).path, phasePath('progressive', 1))
  const reads = ['GET /api/v2/flags/web/progressive/release', `GET ${PIPELINE_PATH}`]
  assert.deepEqual(seen, reads, 'the release and its pipeline are read through the proxy')
  assert.deepEqual(sent(server), reads, 'and nothing goes around it')
  // The drawing of a release finished by the call reads the pipeline through the proxy too.
  server.clearRequests()
  seen.length = 0
  const finished = await cli(['start', 'web', 'progressive', '2', ...auth(server)], { env })
  assert.equal(finished.code, 0, finished.stderr)
  assert.match(finished.stdout, /\n {2}finished .*: its last phase is active\n$/)
  const sentThrough = ['GET /api/v2/flags/web/progressive/release', `PUT ${phasePath('progressive', 2)}`, `GET ${PIPELINE_PATH}`]
  assert.deepEqual(seen, sentThrough)
  assert.deepEqual(sent(server), sentThrough)
  // The pipeline commands as well.
  server.clearRequests()
  seen.length = 0
  const chart = await cli(['pipeline', 'web', 'progressive-rollout', ...auth(server)], { env })
  assert.equal(chart.code, 0, chart.stderr)
  assert.equal(seen.length, 2)
  assert.deepEqual(seen, sent(server))
  // With NO_PROXY naming the host, every request goes directly.
  seen.length = 0
  const direct = await cli(['status', 'web', 'progressive', ...auth(server)], { env: { ...env, NO_PROXY: '127.0.0.1' } })
  assert.match(direct.stdout, /\n {2}finished .*: its last phase is active\n$/)
  assert.deepEqual(seen, [])
})

// Release pipelines and the flags in them: `pipelines`, `pipeline` and `advance`.

const PIPELINES_PATH = '/api/v2/projects/web/release-pipelines'
const LEGACY_IDS = sampleRelease().phases.map((p) => p._id)

/** A release of the legacy sample pipeline whose first `done` phases are complete (3: finished). */
function legacyAt(done) {
  const release = sampleRelease()
  release.phases.forEach((phase, i) => {
    if (i < done) Object.assign(phase, { complete: true, status: 'Complete', started: true, _completionDate: 1764400000000 + i })
    if (i === done) Object.assign(phase, { status: 'Started', started: true })
  })
  return release
}

/** A release of the new sample pipeline whose phase `at` is active, every phase before it completed. */
function newAt(at) {
  const release = sampleNewPipelineRelease()
  release.phases.forEach((phase, i) => {
    if (i < at) Object.assign(phase, { complete: true, status: 'completed', started: true, _completionDate: 1766090000000 + i })
    if (i === at) Object.assign(phase, { status: 'active', started: true })
  })
  return release
}

const flagsOf = (spec) => Object.entries(spec).map(([flagKey, release]) => ({ projectKey: 'web', flagKey, release }))
const writesTo = (server) => server.requests.filter((q) => q.method !== 'GET')

/** A server on 127.0.0.1 answering `answer(request)` (`{ status, body }`, possibly later), recording requests with their parsed URL. */
async function answering(t, answer) {
  const requests = []
  const server = createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const url = new URL(req.url, 'http://x')
      const request = { method: req.method, path: url.pathname, query: url.searchParams, body: Buffer.concat(chunks).toString('utf8') }
      requests.push(request)
      const out = await answer(request)
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(out.body))
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${server.address().port}`, apiKey: TOKEN, requests }
}

/** `{ items, totalCount }` of `all` for the request's limit and offset. */
const pageOf = (all, query) => {
  const limit = Number(query.get('limit'))
  const offset = Number(query.get('offset'))
  return { items: all.slice(offset, offset + limit), totalCount: all.length }
}

test('pipelines prints a table of every pipeline, and --json every pipeline as sent', async (t) => {
  const server = await fake(t)
  await client(server).createReleasePipeline('web', {
    key: 'canary',
    name: 'Canary',
    phases: [
      { name: 'Canary', audiences: [{ environmentKey: 'canary', name: 'Canary' }] },
      { name: 'Everyone', audiences: [{ environmentKey: 'production', name: 'Production' }] },
    ],
    isLegacy: true,
  })
  server.clearRequests()
  const r = await cli(['pipelines', 'web', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  assert.equal(
    r.stdout,
    [
      'KEY                  NAME                 KIND    PHASES                            DEFAULT',
      'standard-rollout     Standard rollout     legacy  Testing → Staging → Production    yes',
      'progressive-rollout  Progressive rollout  new     QA → Beta → General availability',
      'canary               Canary               legacy  Canary → Everyone',
      '',
    ].join('\n'),
  )
  assert.deepEqual(sent(server).map((s) => s.split('?')[0]), [`GET ${PIPELINES_PATH}`])

  const json = await cli(['pipelines', 'web', '--json', ...auth(server)])
  assert.equal(json.code, 0, json.stderr)
  const listed = []
  for await (const pipeline of client(server).listReleasePipelines('web')) listed.push(pipeline)
  assert.deepEqual(JSON.parse(json.stdout), listed)
  assert.equal(listed.length, 3)
  const forced = await cli(['pipelines', 'web', ...auth(server)], { env: { FORCE_COLOR: '1' } })
  assert.match(forced.stdout, /^\x1b\[1mKEY {18}NAME/)

  // --query: the library's filter, sent as LaunchDarkly reads it; the fake matches it.
  server.clearRequests()
  const matching = await cli(['pipelines', 'web', '--query', 'canary', '--json', ...auth(server)])
  assert.equal(matching.code, 0, matching.stderr)
  assert.deepEqual(JSON.parse(matching.stdout).map((p) => p.key), ['canary'])
  assert.deepEqual(sent(server).map((s) => new URLSearchParams(s.split('?')[1]).get('filter')), ['query:canary'])
})

test('pipelines reads every page; an empty project says so; a refused read exits 1', async (t) => {
  let all = Array.from({ length: 61 }, (_, i) => ({ key: `p${i}`, name: i === 7 ? `Leak ${TOKEN}` : `Pipeline\x1b[31m ${i}`, phases: [{ id: `${i}`, name: 'Only' }], _isLegacy: false }))
  const server = await answering(t, (q) => (q.path === PIPELINES_PATH ? { body: pageOf(all, q.query) } : { status: 404, body: { code: 'not_found', message: 'no' } }))
  const r = await cli(['pipelines', 'web', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  const rows = r.stdout.trimEnd().split('\n').slice(1)
  assert.equal(rows.length, 61)
  assert.match(rows[60], /^p60 +Pipeline\\u\{1b\}\[31m 60 +new +Only$/, 'control characters from the server are not written to the terminal')
  // A server that echoes the token has it masked in the table.
  assert.match(rows[7], new RegExp(`^p7 +Leak \\*{4}${TOKEN.slice(-4)} +new +Only$`))
  assert.ok(!r.stdout.includes(TOKEN.slice(0, 12)))
  const limit = Number(server.requests[0].query.get('limit'))
  assert.deepEqual(
    server.requests.map((q) => Number(q.query.get('offset'))),
    Array.from({ length: Math.ceil(61 / limit) }, (_, i) => i * limit),
  )
  const json = await cli(['pipelines', 'web', '--json', ...auth(server)])
  // --json is the same JSON, with the token masked there too.
  assert.deepEqual(JSON.parse(json.stdout), all.map((p) => (p.key === 'p7' ? { ...p, name: `Leak ****${TOKEN.slice(-4)}` } : p)))

  all = []
  const empty = await cli(['pipelines', 'web', ...auth(server)])
  assert.deepEqual([empty.code, empty.stdout, empty.stderr], [0, '', 'project web has no release pipelines\n'])
  const emptyJson = await cli(['pipelines', 'web', '--json', ...auth(server)])
  assert.deepEqual([emptyJson.code, emptyJson.stdout], [0, '[]\n'])

  const refused = await cli(['pipelines', 'web', '--access-token', 'api-wrong-token-0000', '--base-uri', (await fake(t)).url])
  assert.equal(refused.code, 1)
  assert.match(refused.stderr, /\(code ERR_LD_UNAUTHORIZED, HTTP 401\)\n$/)
})

test('pipeline draws the phases in order with the flags at each and the finished ones', async (t) => {
  const spec = { a: legacyAt(0), b: legacyAt(0), c: legacyAt(0), staged: legacyAt(1), done1: legacyAt(3), done2: legacyAt(3), n: newAt(1), ga: newAt(2) }
  const server = await fake(t, { releases: flagsOf(spec) })
  const r = await cli(['pipeline', 'web', 'standard-rollout', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  assert.equal(
    r.stdout,
    [
      'Standard rollout (standard-rollout) · legacy pipeline · 6 flags',
      '  0 Testing     ████████████████████████  3',
      '  1 Staging     ████████                  1',
      '  2 Production                            0',
      '    finished    ████████████████          2',
      '',
    ].join('\n'),
  )
  // The pipeline, then its progressions.
  assert.deepEqual(sent(server).map((s) => s.split('?')[0]), [`GET ${PIPELINES_PATH}/standard-rollout`, `GET ${PIPELINES_PATH}/standard-rollout/releases`])

  const json = await cli(['pipeline', 'web', 'standard-rollout', '--json', ...auth(server)])
  assert.equal(json.code, 0, json.stderr)
  const printed = JSON.parse(json.stdout)
  assert.deepEqual(printed.pipeline, await client(server).getReleasePipeline('web', 'standard-rollout'))
  assert.deepEqual(printed.counts, {
    total: 6,
    finished: 2,
    phases: [
      { index: 0, id: LEGACY_IDS[0], name: 'Testing', flags: 3 },
      { index: 1, id: LEGACY_IDS[1], name: 'Staging', flags: 1 },
      { index: 2, id: LEGACY_IDS[2], name: 'Production', flags: 0 },
    ],
    elsewhere: 0,
  })

  const fresh = await cli(['pipeline', 'web', 'progressive-rollout', ...auth(server)])
  assert.equal(fresh.code, 0, fresh.stderr)
  assert.equal(
    fresh.stdout,
    [
      'Progressive rollout (progressive-rollout) · new pipeline · 2 flags',
      '  0 QA                                              0',
      '  1 Beta                  ████████████████████████  1',
      '  2 General availability  ████████████████████████  1',
      '    finished                                        0',
      '  1 flag at General availability, the last phase of a new pipeline: its release is finished',
      '',
    ].join('\n'),
  )

  const missing = await cli(['pipeline', 'web', 'no-such-pipeline', ...auth(server)])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /\(code ERR_LD_NOT_FOUND, HTTP 404\)\n$/)
})

test('pipeline counts the flags from one request, and those at a phase the pipeline no longer has', async (t) => {
  const phases = [
    { id: 'a', name: 'A' },
    { id: 'b', name: 'B' },
  ]
  // A progressions page as LaunchDarkly sends it: the counts of the whole list, besides
  // one page of items.
  const counts = {
    items: [{ flagKey: 'a0', activePhaseId: 'a' }],
    totalCount: 113,
    activeCount: 106,
    completedCount: 7,
    phases: [
      { _id: 'a', name: 'A', releaseCount: 70 },
      { _id: 'b', name: 'B', releaseCount: 35 },
    ],
  }
  const server = await answering(t, (q) => (q.path.endsWith('/releases') ? { body: counts } : { body: { key: 'p', name: 'P', phases } }))
  const r = await cli(['pipeline', 'web', 'p', '--json', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).counts, {
    total: 113,
    finished: 7,
    phases: [
      { index: 0, id: 'a', name: 'A', flags: 70 },
      { index: 1, id: 'b', name: 'B', flags: 35 },
    ],
    elsewhere: 1,
  })
  // The pipeline, then one page of one item for the counts.
  assert.deepEqual(
    server.requests.map((q) => `${q.path}?${q.query}`),
    ['/api/v2/projects/web/release-pipelines/p?', '/api/v2/projects/web/release-pipelines/p/releases?limit=1&offset=0'],
  )
  const text = await cli(['pipeline', 'web', 'p', ...auth(server)])
  assert.equal(
    text.stdout,
    [
      'P (p) · legacy pipeline · 113 flags',
      '  0 A                               ████████████████████████  70',
      '  1 B                               ████████████              35',
      '    finished                        ██                         7',
      '    at a phase not in the pipeline  █                          1',
      '',
    ].join('\n'),
  )
})

test('advance moves every flag at a phase of a legacy pipeline, one guarded PATCH each', async (t) => {
  const spec = { a: legacyAt(0), b: legacyAt(0), staged: legacyAt(1), c: legacyAt(0) }
  const server = await fake(t, { releases: flagsOf(spec) })
  const r = await cli(['advance', 'web', 'standard-rollout', '--from', 'Testing', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, '✓ web/a\n✓ web/b\n✓ web/c\n')
  assert.equal(r.stderr, '3 flags at phase "Testing" of standard-rollout: 3 advanced, 0 failed\n')
  for (const flagKey of ['a', 'b', 'c']) assert.equal(server.getRelease('web', flagKey).phases[0].complete, true)
  assert.deepEqual(server.getRelease('web', 'staged'), spec.staged)
  const patches = writesTo(server)
  assert.deepEqual(patches.map((q) => q.path).sort(), ['a', 'b', 'c'].map((f) => `/api/v2/flags/web/${f}/release`))
  for (const q of patches) assert.deepEqual(q.json, [{ op: 'test', path: '/phases/0/_id', value: LEGACY_IDS[0] }, { op: 'replace', path: '/phases/0/complete', value: true }])

  // --json, by index: one result per flag with its key and the Release.
  const json = await cli(['advance', 'web', 'standard-rollout', '--from', '1', '--json', ...auth(server)])
  assert.equal(json.code, 0, json.stderr)
  const results = JSON.parse(json.stdout)
  assert.deepEqual(results.map((x) => [x.ok, x.flagKey]), [[true, 'a'], [true, 'b'], [true, 'staged'], [true, 'c']])
  for (const x of results) assert.deepEqual(x.release, server.getRelease('web', x.flagKey))
  assert.equal(json.stderr, '4 flags at phase 1 of standard-rollout: 4 advanced, 0 failed\n')

  // Nobody left at Testing.
  const none = await cli(['advance', 'web', 'standard-rollout', '--from', 'Testing', ...auth(server)])
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', 'no flag is at phase "Testing" of standard-rollout: nothing to advance\n'])
})

test('advance on a new pipeline starts the next phase; its last phase is refused, nothing written', async (t) => {
  const server = await fake(t, { releases: flagsOf({ n1: newAt(0), n2: newAt(0), ga: newAt(2) }) })
  const r = await cli(['advance', 'web', 'progressive-rollout', '--from', `id:${NEW_IDS[0]}`, ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, '✓ web/n1\n✓ web/n2\n')
  assert.deepEqual(writesTo(server).map((q) => `${q.method} ${q.path} ${q.body}`).sort(), ['n1', 'n2'].map((f) => `PUT ${phasePath(f, 1)} {"status":"active"}`))
  for (const f of ['n1', 'n2']) assert.deepEqual(server.getRelease('web', f).phases.map((p) => p.status), ['completed', 'active', 'not-started'])

  server.clearRequests()
  const last = await cli(['advance', 'web', 'progressive-rollout', '--from', 'General availability', ...auth(server)])
  assert.equal(last.code, 1)
  assert.equal(last.stdout, '')
  assert.match(last.stderr, /^error: .*\(code ERR_LD_UNSUPPORTED\)\n$/)
  assert.deepEqual(writesTo(server), [])
  assert.deepEqual(server.getRelease('web', 'ga'), newAt(2))
})

test('advance --dry-run lists the flags that would move and the write of each, and writes nothing', async (t) => {
  const spec = { n1: newAt(0), n2: newAt(0), beta: newAt(1) }
  const server = await fake(t, { releases: flagsOf(spec) })
  const r = await cli(['advance', 'web', 'progressive-rollout', '--from', '0', '--dry-run', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '2 flags at phase 0 of progressive-rollout would move: n1, n2 (2 PUT requests; nothing was written)\n')
  const previews = r.stdout.trimEnd().split('\n\n')
  assert.equal(previews.length, 4, 'two requests, each headers then body')
  assert.match(r.stdout, new RegExp(`^PUT ${server.url}${phasePath('n1', 1)}\n`))
  assert.ok(r.stdout.includes(`\n\nPUT ${server.url}${phasePath('n2', 1)}\n`))
  assert.ok(r.stdout.includes(`Authorization: ****${TOKEN.slice(-4)}\n`))
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(TOKEN.slice(0, 12)))
  assert.ok(server.requests.every((q) => q.method === 'GET'))
  for (const [flagKey, release] of Object.entries(spec)) assert.deepEqual(server.getRelease('web', flagKey), release)

  const json = await cli(['advance', 'web', 'progressive-rollout', '--from', 'QA', '--dry-run', '--json', ...auth(server)])
  assert.equal(json.code, 0, json.stderr)
  const planned = JSON.parse(json.stdout)
  assert.deepEqual(
    planned.map((p) => [p.flagKey, p.request.method, p.request.url, p.request.body]),
    ['n1', 'n2'].map((f) => [f, 'PUT', `${server.url}${phasePath(f, 1)}`, '{"status":"active"}']),
  )
  // The real run sends what the dry run showed.
  server.clearRequests()
  const real = await cli(['advance', 'web', 'progressive-rollout', '--from', 'QA', ...auth(server)])
  assert.equal(real.code, 0, real.stderr)
  assert.deepEqual(
    writesTo(server)
      .map((q) => `${q.method} ${server.url}${q.path} ${q.body}`)
      .sort(),
    planned.map((p) => `${p.request.method} ${p.request.url} ${p.request.body}`),
  )
  const none = await cli(['advance', 'web', 'progressive-rollout', '--from', 'QA', '--dry-run', '--json', ...auth(server)])
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, '[]\n', 'no flag is at phase "QA" of progressive-rollout: nothing would move\n'])
})

test('advance reports a failing flag and exits 1; the others move', async (t) => {
  const spec = { a: legacyAt(0), b: legacyAt(0), c: legacyAt(0) }
  const server = await fake(t, { releases: flagsOf(spec) })
  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/b/release' }, status: 500 })
  const r = await cli(['advance', 'web', 'standard-rollout', '--from', 'Testing', '--retries', '0', ...auth(server)])
  assert.equal(r.code, 1)
  const lines = r.stdout.trimEnd().split('\n')
  assert.deepEqual([lines[0], lines[2]], ['✓ web/a', '✓ web/c'])
  assert.match(lines[1], /^✗ web\/b: .*500.* \(code ERR_LD_SERVER\)$/)
  assert.equal(r.stderr, '3 flags at phase "Testing" of standard-rollout: 2 advanced, 1 failed\n')
  assert.equal(server.getRelease('web', 'a').phases[0].complete, true)
  assert.deepEqual(server.getRelease('web', 'b'), spec.b)

  server.injectFault({ match: { method: 'PATCH', path: '/api/v2/flags/web/b/release' }, status: 403 })
  const json = await cli(['advance', 'web', 'standard-rollout', '--from', 'Testing', '--json', ...auth(server)])
  assert.equal(json.code, 1)
  const results = JSON.parse(json.stdout)
  assert.deepEqual(results.map((x) => [x.flagKey, x.ok]), [['b', false]])
  assert.equal(results[0].error.code, 'ERR_LD_FORBIDDEN')
  assert.equal(results[0].error.status, 403)
  assert.equal(typeof results[0].error.message, 'string')
})

test('advance: usage errors exit 2 and send nothing', async (t) => {
  const server = await fake(t, { releases: flagsOf({ a: legacyAt(0) }) })
  const cases = [
    [['advance', 'web', 'standard-rollout'], /^error: --from is required\n/],
    [['advance', 'web', 'standard-rollout', '--from', '-1'], /^error: --from: phase must be an integer from 0 to 4294967295, got "-1"\n/],
    [['advance', 'web', 'standard-rollout', '--from', 'id:'], /^error: --from: phase id must not be empty\n/],
    [['advance', 'web', 'standard-rollout', '--from', '0', '--concurrency', '0'], /^error: --concurrency must be an integer from 1 to 256, got "0"\n/],
    [['advance', 'web', '--from', '0'], /^error: advance takes <project> <pipeline>, got 1 argument\n/],
    [['pipelines', 'web', '--dry-run'], /^error: pipelines does not take --dry-run\n/],
  ]
  for (const [args, message] of cases) {
    const r = await cli([...args, ...auth(server)])
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.stderr, message)
  }
  assert.equal(server.requests.length, 0)
  // A phase the pipeline does not have: the pipeline is read, nothing is written; exit 2.
  const unknown = await cli(['advance', 'web', 'standard-rollout', '--from', 'QA', ...auth(server)])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /\(code ERR_LD_INVALID_ARGUMENT\)\nRun 'ld-release advance --help' for usage\.\n$/)
  assert.deepEqual(writesTo(server), [])
})

test('advance --concurrency bounds the writes in flight', async (t) => {
  const flags = Array.from({ length: 8 }, (_, i) => ({ flagKey: `f${i}`, activePhaseId: 'one' }))
  let inFlight = 0
  let most = 0
  const server = await answering(t, async (q) => {
    if (q.method === 'GET') return { body: q.path.endsWith('/releases') ? pageOf(flags, q.query) : { key: 'p', phases: [{ id: 'one', name: 'One' }, { id: 'two', name: 'Two' }] } }
    inFlight++
    most = Math.max(most, inFlight)
    await sleep(60)
    inFlight--
    return { body: { name: 'P', phases: [] } }
  })
  const r = await cli(['advance', 'web', 'p', '--from', 'One', '--concurrency', '2', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(server.requests.filter((q) => q.method === 'PATCH').length, 8)
  assert.ok(most <= 2 && most >= 1, `${most} in flight`)
})

test('advance draws a progress bar when it has a terminal', { skip: (process.platform !== 'linux' || !existsSync('/usr/bin/script')) && 'needs util-linux script for a pseudo-terminal' }, async (t) => {
  const server = await fake(t, { releases: flagsOf({ a: legacyAt(0), b: legacyAt(0), c: legacyAt(0) }) })
  const r = await onTerminal(['advance', 'web', 'standard-rollout', '--from', '0', ...auth(server)])
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /\[#{30}\] 3\/3/)
  assert.match(r.out, /3 flags at phase 0 of standard-rollout: 3 advanced, 0 failed/)
})

/** Runs `args` on a pseudo-terminal (util-linux `script`): stdout and stderr are TTYs. */
function onTerminal(args) {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ')
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], { env: cleanEnv({ NO_COLOR: '1' }) })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, out }))
  })
}

const NO_TERMINAL = (process.platform !== 'linux' || !existsSync('/usr/bin/script')) && 'needs util-linux script for a pseudo-terminal'

test('--verbose: a line per attempt and retry on stderr, stdout exactly as without it', async (t) => {
  const server = await fake(t)
  const plain = await cli(['status', 'web', 'checkout', '--json', ...auth(server)])
  assert.equal(plain.code, 0, plain.stderr)
  server.injectFault({ status: 429, headers: { 'Retry-After': '1' } })
  const r = await cli(['status', 'web', 'checkout', '--json', '--verbose', ...auth(server)])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, plain.stdout)
  const url = `${server.url}/api/v2/flags/web/checkout/release`.replace(/[.]/g, '\\.')
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 2, r.stderr)
  assert.match(lines[0], new RegExp(`^GET ${url} -> 429 in \\d+ ms; retrying in 1\\.[0-3] s \\(Retry-After\\)$`))
  assert.match(lines[1], new RegExp(`^GET ${url} -> 200 in \\d+ ms$`))
  assertNoSecretIn(r.stdout + r.stderr, 'the output')
  // Without --verbose and without a terminal, stderr stays silent.
  server.injectFault({ status: 503 })
  const quiet = await cli(['status', 'web', 'checkout', '--json', ...auth(server)])
  assert.equal(quiet.code, 0, quiet.stderr)
  assert.equal(quiet.stderr, '')
  assert.equal(quiet.stdout, plain.stdout)
})

test('--verbose: rate-limit waits, timeouts and failures, the token masked everywhere', async (t) => {
  const server = await fake(t, {
    rateLimit: { limit: 1, windowMs: 1000 },
    releases: ['a', 'b'].map((flagKey) => ({ projectKey: 'web', flagKey, release: sampleRelease() })),
  })
  const items = ['a', 'b'].map((flagKey) => ({ projectKey: 'web', flagKey, phase: 0 }))
  const r = await cli(['complete-many', '--file', '-', '--json', '--concurrency', '1', '--verbose', ...auth(server)], { input: JSON.stringify(items) })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(
    JSON.parse(r.stdout).map((item) => item.ok),
    [true, true],
  )
  assert.match(r.stderr, /^PATCH http:\/\/127\.0\.0\.1:\d+\/api\/v2\/flags\/web\/a\/release -> 200 in \d+ ms$/m)
  // b's read (or, when the windows turned in between, its PATCH) waits for its route's window.
  assert.match(r.stderr, /^(GET|PATCH) http:\/\/127\.0\.0\.1:\d+\/api\/v2\/flags\/web\/b\/release waits \d\.\d s: the rate-limit window's budget is spent until X-Ratelimit-Reset$/m)
  assert.match(r.stderr, /^PATCH http:\/\/127\.0\.0\.1:\d+\/api\/v2\/flags\/web\/b\/release -> 200 in \d+ ms$/m)

  // The reads above spent the window of GET …/release: let it turn first.
  await new Promise((resolve) => setTimeout(resolve, 1100))
  server.injectFault({ stallMs: 3000 })
  const slow = await cli(['status', 'web', 'a', '--timeout', '200', '--retries', '1', '--verbose', ...auth(server)])
  assert.equal(slow.code, 0, slow.stderr)
  assert.match(slow.stderr, /^GET \S+\/flags\/web\/a\/release -> timed out after \d+ ms; retrying in 0\.[2-3] s \(backoff\)$/m)

  // The token in a URL (here as a flag key) and in a server's header is masked.
  server.injectFault({ status: 503, headers: { 'Retry-After': `0 ${TOKEN}` } })
  const echoed = await cli(['status', 'web', `x${TOKEN}`, '--verbose', ...auth(server)])
  assert.equal(echoed.code, 1)
  assert.match(echoed.stderr, /^GET \S+\/flags\/web\/x\*\*\*\*\S* -> 503 in \d+ ms; retrying in/m)
  assert.match(echoed.stderr, / -> 404 in \d+ ms\n/)
  assertNoSecretIn(echoed.stdout + echoed.stderr, 'the output')
})

test('a long wait on a terminal shows a countdown, without --verbose', { skip: NO_TERMINAL }, async (t) => {
  const server = await fake(t)
  server.injectFault({ status: 429, headers: { 'Retry-After': '3' } })
  const r = await onTerminal(['status', 'web', 'checkout', ...auth(server)])
  assert.equal(r.code, 0, r.out)
  assert.match(r.out, /\r\x1b\[KGET http:\/\/127\.0\.0\.1:\d+\/api\/v2\/flags\/web\/checkout\/release: HTTP 429, retrying in: [34] s…/)
  assert.match(r.out, /\r\x1b\[K[^\r]*: [12] s…/, 'it counts down')
  assert.match(r.out, /\r\x1b\[KStandard rollout/, 'cleared before the drawing')
  assertNoSecretIn(r.out, 'the terminal')
})

test('watchRequests subscribes to nothing without --verbose or a terminal, and clears its countdown', async (t) => {
  const { watchRequests } = createRequire(import.meta.url)('../lib/cli/verbose.js')
  const names = ['request', 'response', 'retry', 'wait'].map((n) => `ld-release:${n}`)
  const lines = []
  const stop = watchRequests({ stream: { isTTY: false }, line: (l) => lines.push(l) })
  assert.deepEqual(names.map((n) => dc.hasSubscribers(n)), [false, false, false, false])
  stop()

  // On a terminal, without --verbose: answers are not listened to.
  const written = []
  const tty = { isTTY: true, write: (text) => written.push(text) }
  const unwatch = watchRequests({ stream: tty, line: (l) => lines.push(l), countdownAfterMs: 500, env: {} })
  t.after(unwatch)
  assert.deepEqual(names.map((n) => dc.hasSubscribers(n)), [true, false, true, true])
  const server = await fake(t)
  server.injectFault({ status: 429, headers: { 'Retry-After': '1' } })
  await client(server, { maxRetries: 1 }).getRelease('web', 'checkout')
  unwatch()
  assert.deepEqual(lines, [])
  assert.match(written[0], /^\r\x1b\[KGET \S+\/flags\/web\/checkout\/release: HTTP 429, retrying in: [12] s…$/)
  assert.equal(written.at(-1), '\r\x1b[K', 'cleared at the end')
  assert.deepEqual(names.map((n) => dc.hasSubscribers(n)), [false, false, false, false])

  // TERM=dumb reads no escape sequence: no countdown, and nothing is listened to.
  const dumb = []
  const unwatchDumb = watchRequests({ stream: { isTTY: true, write: (text) => dumb.push(text) }, line: (l) => lines.push(l), countdownAfterMs: 500, env: { TERM: 'dumb' } })
  assert.deepEqual(names.map((n) => dc.hasSubscribers(n)), [false, false, false, false])
  unwatchDumb()
  assert.deepEqual(dumb, [])
})

test('a phase index the release does not have is a usage error (exit 2) after one read, and nothing is written', async (t) => {
  const server = await fake(t)
  for (const args of [
    ['complete', 'web', 'checkout', '7'],
    ['complete', 'web', 'checkout', '7', '--dry-run'],
    ['reopen', 'web', 'checkout', '3'],
    ['start', 'web', 'checkout', '9'],
  ]) {
    server.clearRequests()
    const r = await cli([...args, ...auth(server)])
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^error: phase \d does not exist: the release has 3 phases \(code ERR_LD_INVALID_ARGUMENT\)\n/)
    assert.deepEqual(
      server.requests.map((q) => `${q.method} ${q.path}`),
      ['GET /api/v2/flags/web/checkout/release'],
    )
  }
  assert.deepEqual(
    server.getRelease('web', 'checkout').phases.map((p) => p.complete),
    [false, false, false],
  )
})

test('advance skips a flag listed at another phase: named with its reason, in --json and in a dry run; nothing is written to it', async (t) => {
  const flags = [
    { flagKey: 'a', activePhaseId: 'one' },
    { flagKey: 'b', activePhaseId: 'two' },
    { flagKey: 'c', activePhaseId: 'one' },
  ]
  let listed = flags
  const server = await answering(t, async (q) => {
    if (q.method === 'GET') return { body: q.path.endsWith('/releases') ? pageOf(listed, q.query) : { key: 'p', phases: [{ id: 'one', name: 'One' }, { id: 'two', name: 'Two' }] } }
    return { body: { name: 'P', phases: [] } }
  })
  const patched = () => server.requests.filter((q) => q.method === 'PATCH').map((q) => q.path.split('/').at(-2))
  const why = 'the progressions listing shows the release of web/b at phase "two" ("Two"), not at phase "one" ("One"): it was skipped, nothing was written'
  const skipLine = `↷ web/b skipped (listed-elsewhere): ${why}\n`
  const skipEntry = { ok: false, skipped: true, flagKey: 'b', reason: 'listed-elsewhere', activePhaseId: 'two', error: { code: 'ERR_LD_CONFLICT', message: why } }

  const r = await cli(['advance', 'web', 'p', '--from', 'One', ...auth(server)])
  assert.deepEqual([r.code, r.stdout, r.stderr], [0, `✓ web/a\n${skipLine}✓ web/c\n`, '3 flags at phase "One" of p: 2 advanced, 1 skipped (not at that phase), 0 failed\n'], 'a skip alone does not fail the run')
  const json = await cli(['advance', 'web', 'p', '--from', 'One', '--json', ...auth(server)])
  assert.equal(json.code, 0, json.stderr)
  const release = { name: 'P', phases: [] }
  assert.deepEqual(JSON.parse(json.stdout), [{ ok: true, flagKey: 'a', release }, skipEntry, { ok: true, flagKey: 'c', release }])
  assert.deepEqual(patched(), ['a', 'c', 'a', 'c'])

  server.requests.length = 0
  const dry = await cli(['advance', 'web', 'p', '--from', 'One', '--dry-run', ...auth(server)])
  assert.equal(dry.code, 0, dry.stderr)
  assert.deepEqual(dry.stdout.match(/^PATCH \S+/gm), ['a', 'c'].map((f) => `PATCH ${server.url}/api/v2/flags/web/${f}/release`))
  assert.equal(dry.stderr, `${skipLine}2 flags at phase "One" of p would move: a, c (2 PATCH requests; nothing was written); 1 listed flag would be skipped (not at that phase)\n`)
  const dryJson = await cli(['advance', 'web', 'p', '--from', 'One', '--dry-run', '--json', ...auth(server)])
  assert.equal(dryJson.code, 0, dryJson.stderr)
  assert.deepEqual(
    JSON.parse(dryJson.stdout).map((x) => (x.request ? [x.flagKey, x.request.method] : x)),
    [['a', 'PATCH'], skipEntry, ['c', 'PATCH']],
  )
  assert.equal(dryJson.stderr, '2 flags at phase "One" of p would move: a, c (2 PATCH requests; nothing was written); 1 listed flag would be skipped (not at that phase)\n', 'with --json, stderr has only the summary')
  listed = [flags[1]]
  const none = await cli(['advance', 'web', 'p', '--from', 'One', '--dry-run', ...auth(server)])
  assert.deepEqual([none.code, none.stdout, none.stderr], [0, '', `${skipLine}no flag at phase "One" of p would move; 1 listed flag would be skipped (not at that phase)\n`])
  assert.deepEqual(patched(), [], 'a dry run writes nothing')
})
