// lib/cli/main.js's own commands run in this process (`main` with a recording io):
// `fake` in the foreground (its variables in each shell's words, what it says, how it
// stops) and `demo`. cli.test.mjs runs them as users do, through the binary; these are
// the fast checks of main.js itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { setEnv, tinyServer } from './helpers.mjs'

const require = createRequire(import.meta.url)
const { main } = require('../lib/cli/main.js')

/**
 * Runs the CLI with `argv`; `untilStopped` is what stands for SIGINT or SIGTERM (it may
 * first use the fake, from the variables printed); `env` the environment it is told of.
 * Lines keep their newline.
 */
async function run(argv, { untilStopped, env = {} } = {}) {
  const out = []
  const err = []
  const io = { out: (text) => out.push(`${text}\n`), err: (text) => err.push(`${text}\n`), readStdin: () => '', env, untilStopped: () => untilStopped(out.join('')) }
  const code = await main(argv, io)
  return { code, out: out.join(''), err: err.join('') }
}

test("fake prints its variables as each shell runs them, says what it holds and how to stop it, and counts the requests it served", async () => {
  const shells = {
    sh: [/^export LD_BASE_URI='(http:\/\/127\.0\.0\.1:\d+)'\nexport LD_ACCESS_TOKEN='(api-fake-[0-9a-f]+)'\n$/, 'eval "$(npx ld-release fake --detach)"'],
    bash: [/^export LD_BASE_URI='(http:\/\/127\.0\.0\.1:\d+)'\nexport LD_ACCESS_TOKEN='(api-fake-[0-9a-f]+)'\n$/, 'eval "$(npx ld-release fake --detach)"'],
    zsh: [/^export LD_BASE_URI='(http:\/\/127\.0\.0\.1:\d+)'\nexport LD_ACCESS_TOKEN='(api-fake-[0-9a-f]+)'\n$/, 'eval "$(npx ld-release fake --detach)"'],
    fish: [/^set -gx LD_BASE_URI '(http:\/\/127\.0\.0\.1:\d+)'\nset -gx LD_ACCESS_TOKEN '(api-fake-[0-9a-f]+)'\n$/, 'npx ld-release fake --env fish --detach | source'],
    powershell: [/^\$env:LD_BASE_URI = '(http:\/\/127\.0\.0\.1:\d+)'\n\$env:LD_ACCESS_TOKEN = '(api-fake-[0-9a-f]+)'\n$/, 'npx ld-release fake --env powershell --detach | Invoke-Expression'],
    pwsh: [/^\$env:LD_BASE_URI = '(http:\/\/127\.0\.0\.1:\d+)'\n\$env:LD_ACCESS_TOKEN = '(api-fake-[0-9a-f]+)'\n$/, 'npx ld-release fake --env powershell --detach | Invoke-Expression'],
    dotenv: [/^LD_BASE_URI=(http:\/\/127\.0\.0\.1:\d+)\nLD_ACCESS_TOKEN=(api-fake-[0-9a-f]+)\n$/, 'npx ld-release fake --env dotenv --detach > fake.env'],
  }
  for (const [shell, [lines, load]] of Object.entries(shells)) {
    const r = await run(['fake', '--env', shell], {
      untilStopped: async (printed) => {
        const [, url, token] = lines.exec(printed)
        // One request, for the singular.
        const answer = await fetch(`${url}/api/v2/flags/web/new-checkout/release`, { headers: { Authorization: token, 'LD-API-Version': 'beta' } })
        assert.equal(answer.status, 200)
        return 'SIGTERM'
      },
    })
    assert.equal(r.code, 0, shell)
    assert.match(r.out, lines, shell)
    const said = r.err.split('\n')
    assert.match(said[0], /^A fake LaunchDarkly is listening on http:\/\/127\.0\.0\.1:\d+, holding 5 releases: web\/new-checkout, web\/dark-mode, web\/search-v2 \(legacy pipeline standard-rollout\); web\/progressive-checkout, web\/progressive-search \(new pipeline progressive-rollout\)\.$/)
    assert.equal(said[1], 'Environment releases (flags web/new-checkout, web/checkout-layout; environments test, staging, production) move at real time.')
    assert.equal(said[2], `In the shell that runs the commands, run these lines (or, instead of this command, ${load}):`)
    assert.deepEqual(said.slice(3), [
      'then try: npx ld-release status web new-checkout',
      '      or: npx ld-release complete web progressive-checkout QA --dry-run',
      '      or: npx ld-release rollout start web new-checkout production --to Enabled --steps 1%:10m,10%:30m --metric checkout-errors --watch --interval 1s',
      'Ctrl-C (SIGINT) or SIGTERM stops it.',
      'SIGTERM: stopped after 1 request.',
      '',
    ])
  }
  const fast = await run(['fake', '--speed', '60', '--port', '0'], { untilStopped: async () => 'SIGINT' })
  assert.match(fast.err, /\) move at 60× real time\.\n/)
  assert.match(fast.err, /\nSIGINT: stopped after 0 requests\.\n$/)
})

test('fake refuses a shell, a speed or a port it cannot use, naming it, and listens on nothing', async () => {
  const never = () => assert.fail('the fake was started')
  const cases = [
    [['--env', 'fsh'], 'error: --env must be sh, fish, powershell or dotenv, got "fsh" (did you mean sh?)'],
    [['--env', 'cmd'], 'error: --env must be sh, fish, powershell or dotenv, got "cmd"'],
    [['--speed', '0'], 'error: --speed must be a number greater than 0, at most 1000000, got "0"'],
    [['--speed', '1e3'], 'error: --speed must be a number greater than 0, at most 1000000, got "1e3"'],
    [['--speed', '1000001'], 'error: --speed must be a number greater than 0, at most 1000000, got "1000001"'],
    [['--port', '65536'], 'error: --port must be an integer from 0 to 65535, got "65536"'],
  ]
  for (const [flags, message] of cases) {
    const r = await run(['fake', ...flags], { untilStopped: never })
    assert.deepEqual([r.code, r.out, r.err], [2, '', `${message}\nRun 'ld-release fake --help' for usage.\n`], flags.join(' '))
  }
  for (const speed of ['1000000', '2.55']) {
    const r = await run(['fake', '--speed', speed, '--env', 'dotenv'], { untilStopped: async () => 'SIGTERM' })
    assert.equal(r.code, 0, r.err)
    assert.match(r.err, new RegExp(` move at ${speed.replace('.', '\\.')}× real time\\.`))
  }
  // A port in use: the fake cannot listen there.
  const taken = createServer()
  await new Promise((resolve) => taken.listen(0, '127.0.0.1', resolve))
  const { port } = taken.address()
  try {
    const r = await run(['fake', '--port', String(port)], { untilStopped: never })
    assert.equal(r.code, 2)
    assert.match(r.err, new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE.*\nRun 'ld-release fake --help' for usage\\.\n$`))
  } finally {
    await new Promise((resolve) => taken.close(resolve))
  }
})

const { startFakeLaunchDarkly, sampleReleases, sampleNewPipelineRelease } = require('../testing/index.js')

/**
 * Runs the CLI with `argv` against `server` (its token and URL as flags, unless
 * `flags: false`); `stdin` is what `-` reads, `env` the environment it is told of, `io`
 * more of its io. Lines keep their newline.
 */
async function cli(server, argv, { stdin = '', env = {}, flags = true, io = {} } = {}) {
  const out = []
  const err = []
  const own = { out: (text) => out.push(`${text}\n`), err: (text) => err.push(`${text}\n`), readStdin: () => stdin, env, ...io }
  const code = await main(flags ? [...argv, '--access-token', server.apiKey, '--base-uri', server.url] : argv, own)
  return { code, out: out.join(''), err: err.join('') }
}

const writesTo = (server) => server.requests.filter((q) => q.method !== 'GET')

test('the pipeline commands: --dry-run prints the one request each would send and sends no write; run, each sends it and draws the answer', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  const third = server.getRelease('web', 'progressive-search').phases[2]
  const second = server.getRelease('web', 'progressive-search').phases[1]
  const ops = [{ op: 'replace', path: '/phases/1/complete', value: true }]
  const cases = [
    // argv, the request: method, path, body
    [['status', 'web', 'new-checkout'], 'GET', '/api/v2/flags/web/new-checkout/release', null],
    [['complete', 'web', 'new-checkout', '0'], 'PATCH', '/api/v2/flags/web/new-checkout/release', [{ op: 'replace', path: '/phases/0/complete', value: true }]],
    [['reopen', 'web', 'new-checkout', '0'], 'PATCH', '/api/v2/flags/web/new-checkout/release', [{ op: 'replace', path: '/phases/0/complete', value: false }]],
    [['patch', 'web', 'search-v2', '--data', JSON.stringify(ops)], 'PATCH', '/api/v2/flags/web/search-v2/release', ops],
    [['start', 'web', 'progressive-search', second._name], 'PUT', `/api/v2/projects/web/flags/progressive-search/release/phases/${second._id}`, { status: 'active' }],
    [['phase-status', 'web', 'progressive-search', third._id, '--status', 'active'], 'PUT', `/api/v2/projects/web/flags/progressive-search/release/phases/${third._id}`, { status: 'active' }],
    [['delete', 'web', 'dark-mode'], 'DELETE', '/api/v2/flags/web/dark-mode/release', null],
    [['create', 'web', 'dark-mode', '--pipeline', 'standard-rollout', '--variation', 'v1'], 'PUT', '/api/v2/projects/web/flags/dark-mode/release', { releasePipelineKey: 'standard-rollout', releaseVariationId: 'v1' }],
  ]
  for (const [argv, method, path, body] of cases) {
    const what = argv.slice(0, 2).join(' ')
    const before = writesTo(server).length
    const preview = await cli(server, [...argv, '--dry-run', '--json'])
    assert.equal(preview.code, 0, `${what}: ${preview.err}`)
    const shown = JSON.parse(preview.out)
    assert.deepEqual([shown.method, shown.url, shown.body === undefined ? null : JSON.parse(shown.body)], [method, `${server.url}${path}`, body], what)
    assert.equal(shown.headers.Authorization, `****${server.apiKey.slice(-4)}`, what)
    // The same request drawn as it would go out.
    const drawn = await cli(server, [...argv, '--dry-run'])
    assert.equal(drawn.out.split('\n')[0], `${method} ${server.url}${path}`, what)
    assert.equal(writesTo(server).length, before, `${what}: a dry run wrote`)
    // Only a phase named rather than numbered is worth a note (what the dry run read).
    if (!['complete', 'reopen', 'start'].includes(argv[0])) assert.equal(preview.err, '', what)

    const r = await cli(server, argv)
    assert.equal(r.code, 0, `${what}: ${r.err}`)
    if (method !== 'GET') {
      const sent = writesTo(server).slice(before)
      assert.deepEqual(sent.map((q) => [q.method, q.path, q.json ?? null]), [[method, path, body]], what)
    }
    if (method === 'DELETE') {
      assert.deepEqual([r.out, r.err], ['', 'deleted the release of web/dark-mode\n'])
    } else {
      const release = server.getRelease('web', argv[2])
      assert.equal(r.out.split('\n')[0], `${release.name} (${release.releasePipelineKey}) · version ${release._version}`, what)
      assert.equal(r.err, '', what)
    }
  }
  // --json prints the release as it came.
  const json = await cli(server, ['status', 'web', 'new-checkout', '--json'])
  assert.deepEqual(JSON.parse(json.out), server.getRelease('web', 'new-checkout'))
})

test('a refused token or URL is named by where it came from: its flag, or the variable that set it, and nothing is sent', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  const bad = 'tok\u0001en-12345'
  const cases = [
    [{ LD_ACCESS_TOKEN: bad }, [], 'LD_ACCESS_TOKEN holds characters that cannot be sent in an HTTP header (code ERR_LD_INVALID_ARGUMENT)'],
    [{ LD_ACCESS_TOKEN: ' ', LAUNCHDARKLY_ACCESS_TOKEN: bad }, [], 'LAUNCHDARKLY_ACCESS_TOKEN holds characters that cannot be sent in an HTTP header (code ERR_LD_INVALID_ARGUMENT)'],
    [{ LD_ACCESS_TOKEN: server.apiKey }, ['--access-token', bad], '--access-token must be a non-empty token of visible ASCII characters (code ERR_LD_INVALID_ARGUMENT)'],
    [{ LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: 'ftp://x' }, [], 'LD_BASE_URI scheme must be https: (or http: to loopback), not ftp: (code ERR_LD_INSECURE_URL)'],
    [{ LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: '\t', LAUNCHDARKLY_API_HOST: 'http://example.com' }, [], 'LAUNCHDARKLY_API_HOST uses http: to a host that is not loopback (example.com); use https: (code ERR_LD_INSECURE_URL)'],
    [{ LD_ACCESS_TOKEN: server.apiKey, LD_BASE_URI: server.url }, ['--base-uri', 'http://example.com'], '--base-uri uses http: to a host that is not loopback (example.com); use https: (code ERR_LD_INSECURE_URL)'],
    [{ LD_ACCESS_TOKEN: ' ', LAUNCHDARKLY_ACCESS_TOKEN: '' }, ['--base-uri', server.url], 'no LaunchDarkly access token: pass --access-token, or set LD_ACCESS_TOKEN or LAUNCHDARKLY_ACCESS_TOKEN (code ERR_LD_NO_API_KEY)'],
  ]
  for (const [vars, flags, message] of cases) {
    // The library reads the variables from this process; the CLI names them from its io.
    await t.test(JSON.stringify(vars), async (st) => {
      setEnv(st, vars)
      const r = await cli(server, ['status', 'web', 'new-checkout', ...flags], { env: vars, flags: false })
      assert.deepEqual([r.code, r.out, r.err], [2, '', `error: ${message}\nRun 'ld-release status --help' for usage.\n`], JSON.stringify(vars))
    })
  }
  assert.equal(server.requests.length, 0)
  // From a variable, the token is used and masked as from the flag.
  setEnv(t, { LAUNCHDARKLY_ACCESS_TOKEN: server.apiKey, LAUNCHDARKLY_API_HOST: server.url })
  const fromEnv = await cli(server, ['complete', 'web', 'new-checkout', '0', '--dry-run', '--json'], { env: { LAUNCHDARKLY_ACCESS_TOKEN: ` ${server.apiKey} `, LAUNCHDARKLY_API_HOST: server.url }, flags: false })
  assert.equal(fromEnv.code, 0, fromEnv.err)
  assert.equal(JSON.parse(fromEnv.out).url, `${server.url}/api/v2/flags/web/new-checkout/release`)
  assert.equal(server.requests.at(-1).headers.authorization, server.apiKey)
})

test('stdout that cannot be written: exit 3 once the command succeeded, in silence for a reader gone away; a failed command keeps its code', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  let flushed = 0
  const failing = (code, message) => ({ flush: async () => flushed++, outputError: () => Object.assign(new Error(message), { code }) })
  const full = await cli(server, ['complete', 'web', 'new-checkout', '0'], { io: failing('ENOSPC', 'ENOSPC: no space left on device, write') })
  assert.deepEqual([full.code, full.err], [3, 'error: cannot write the output: ENOSPC: no space left on device, write; the command itself succeeded\n'])
  assert.equal(server.getRelease('web', 'new-checkout').phases[0].complete, true)
  const gone = await cli(server, ['status', 'web', 'new-checkout'], { io: failing('EPIPE', 'write EPIPE') })
  assert.deepEqual([gone.code, gone.err], [3, ''])
  const missing = await cli(server, ['status', 'web', 'missing'], { io: failing('EPIPE', 'write EPIPE') })
  assert.equal(missing.code, 1)
  assert.match(missing.err, /^error: .*\(code ERR_LD_NOT_FOUND, HTTP 404\)\n$/)
  const usage = await cli(server, ['status', 'web'], { io: failing('ENOSPC', 'full') })
  assert.equal(usage.code, 2)
  assert.equal(flushed, 4, 'the output is flushed before its error is read')
  const fine = await cli(server, ['status', 'web', 'new-checkout'], { io: { flush: async () => {}, outputError: () => null } })
  assert.equal(fine.code, 0)
})

test('--version and --help print and send nothing; an error that is neither the library\'s nor the CLI\'s is not swallowed', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  const { version } = require('../package.json')
  const v = await cli(server, ['--version'], { flags: false })
  assert.deepEqual([v.code, v.out, v.err], [0, `ld-release ${version}\n`, ''])
  const help = await cli(server, ['status', '--help'], { flags: false })
  assert.equal(help.code, 0)
  assert.match(help.out, /^Usage: ld-release status <project> <flag>/)
  assert.equal(server.requests.length, 0)
  const broken = new TypeError('the terminal went away')
  await assert.rejects(
    cli(server, ['status', 'web', 'new-checkout'], {
      io: {
        out: () => {
          throw broken
        },
      },
    }),
    (e) => e === broken,
  )
})

test('--json of an answer nested too deeply to print is an ERR_LD_DECODE error that prints nothing; drawn, it is shown', async (t) => {
  const deep = JSON.stringify({ name: 'Deep', releasePipelineKey: 'standard', phases: [], extra: 'HOLE' }).replace('"HOLE"', '['.repeat(200_000) + ']'.repeat(200_000))
  const server = await tinyServer(t, () => ({ body: deep }))
  const target = { apiKey: 'api-deep-0123456789', url: server.url }
  const json = await cli(target, ['status', 'web', 'checkout', '--json'])
  assert.deepEqual([json.code, json.out, json.err], [1, '', 'error: the answer is nested too deeply to print as JSON; nothing was printed (code ERR_LD_DECODE)\n'])
  const drawn = await cli(target, ['status', 'web', 'checkout'])
  assert.equal(drawn.code, 0, drawn.err)
  assert.match(drawn.out, /^Deep \(standard\)/)
})

test('patch reads --data as JSON itself, from stdin (-) or from a file (@path); what it cannot read or parse is a usage error, and nothing is sent', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  const dir = mkdtempSync(join(tmpdir(), 'ld-release-patch-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const ops = (i) => [{ op: 'replace', path: `/phases/${i}/complete`, value: true }]
  writeFileSync(join(dir, 'ops.json'), JSON.stringify(ops(1)))
  const sentFor = async (data, stdin) => {
    const r = await cli(server, ['patch', 'web', 'search-v2', '--data', data, '--dry-run', '--json'], { stdin })
    assert.equal(r.code, 0, r.err)
    return JSON.parse(JSON.parse(r.out).body)
  }
  assert.deepEqual(await sentFor(JSON.stringify(ops(0))), ops(0))
  assert.deepEqual(await sentFor('-', JSON.stringify(ops(2))), ops(2))
  assert.deepEqual(await sentFor(`@${join(dir, 'ops.json')}`), ops(1))
  const refusals = [
    [[], '--data is required'],
    [['--data', '[{"op":'], /^--data is not valid JSON: /],
    [['--data', '-'], /^--data is not valid JSON: /, 'not json'],
    [['--data', `@${join(dir, 'none.json')}`], `--data: cannot read ${join(dir, 'none.json')}: ENOENT: no such file or directory, open '${join(dir, 'none.json')}'`],
  ]
  for (const [flags, message, stdin] of refusals) {
    const r = await cli(server, ['patch', 'web', 'search-v2', ...flags], { stdin })
    assert.equal(r.code, 2, flags.join(' '))
    const [first, second] = r.err.split('\n')
    if (typeof message === 'string') assert.equal(first, `error: ${message}`)
    else assert.match(first.slice('error: '.length), message)
    assert.equal(second, "Run 'ld-release patch --help' for usage.")
  }
  const create = await cli(server, ['create', 'web', 'search-v2'])
  assert.deepEqual([create.code, create.err], [2, "error: --pipeline is required\nRun 'ld-release create --help' for usage.\n"])
  const status = await cli(server, ['phase-status', 'web', 'search-v2', 'p1'])
  assert.deepEqual([status.code, status.err], [2, "error: --status is required\nRun 'ld-release phase-status --help' for usage.\n"])
  assert.deepEqual(writesTo(server), [])
})

test('a new pipeline\'s release whose last phase is active is drawn finished; a dry run that would write nothing says so, and prints null with --json', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  const last = await cli(server, ['complete', 'web', 'progressive-checkout', '2'])
  assert.equal(last.code, 1)
  assert.match(last.err, /^error: Phase 2 \("General availability"\) is the last phase .*\(a release is finished once its last phase is active; use ld-release start\)\. Nothing was changed \(code ERR_LD_UNSUPPORTED\)\n$/)
  const done = await cli(server, ['complete', 'web', 'progressive-checkout', '1'])
  assert.equal(done.code, 0, done.err)
  assert.match(done.out, /\n {2}finished \d{4}-\d\d-\d\d \d\d:\d\d UTC: its last phase is active\n$/)
  assert.equal(server.requests.at(-1).path, '/api/v2/projects/web/release-pipelines/progressive-rollout', 'its pipeline was read')
  // A legacy release whose last phase has started is not finished until that phase is
  // complete; its pipeline need not be read to say so.
  for (const phase of ['0', '1']) assert.equal((await cli(server, ['complete', 'web', 'new-checkout', phase])).code, 0)
  const read = server.requests.length
  const legacy = await cli(server, ['status', 'web', 'new-checkout'])
  assert.match(legacy.out, /\n {2}2 ● Production {2}started /)
  assert.doesNotMatch(legacy.out, /finished/)
  assert.deepEqual(server.requests.slice(read).map((q) => q.path), ['/api/v2/flags/web/new-checkout/release'])
  const before = server.requests.length
  const nothing = await cli(server, ['complete', 'web', 'progressive-checkout', 'QA', '--dry-run', '--json'])
  assert.deepEqual([nothing.code, nothing.out], [0, 'null\n'])
  assert.match(nothing.err, /^\(read from the release and its pipeline: "progressive-rollout" is a new release pipeline, .*the call writes nothing and prints the release as it is\)\n$/)
  const drawn = await cli(server, ['complete', 'web', 'progressive-checkout', 'QA', '--dry-run'])
  assert.equal(drawn.out, '')
  assert.equal(drawn.err, nothing.err)
  assert.deepEqual(server.requests.slice(before).map((q) => q.method), ['GET', 'GET', 'GET', 'GET'])
})

test('demo completes a phase in each kind of release pipeline, drawn before and after, and exits 0', async () => {
  const r = await run(['demo'])
  assert.equal(r.code, 0, r.err)
  assert.equal(r.err, '')
  const [pipelines, guarded] = r.out.split(/\n\n(?=A guarded release: )/)
  const [intro, legacy, fresh] = `${pipelines}\n`.split(/\n\n(?=A (?:legacy|new) release pipeline)/)
  assert.match(
    intro,
    /^A fake LaunchDarkly is listening on http:\/\/127\.0\.0\.1:\d+, holding web\/new-checkout \(Standard rollout, legacy pipeline, 3 phases\) and web\/progressive-checkout \(Progressive rollout, new pipeline, 3 phases\)\.$/,
  )
  const [before, completing, after] = legacy.split(/\n\n(?=Completing|After)/)
  assert.equal(
    before,
    [
      'A legacy release pipeline.',
      'Before: ld-release status web new-checkout',
      'Standard rollout (standard-rollout) · version 1',
      '  0 ● Testing     started 2025-11-28 04:20 UTC · test',
      '  1 ○ Staging     waiting · staging',
      '  2 ○ Production  waiting · production',
    ].join('\n'),
  )
  assert.match(completing, /^Completing phase 0 \(Testing\) with ld-release complete web new-checkout 0, which sends:\nPATCH http:\/\/127\.0\.0\.1:\d+\/api\/v2\/flags\/web\/new-checkout\/release\n/)
  assert.match(completing, /\nLD-API-Version: beta\n[^]*\n\n\[\{"op":"replace","path":"\/phases\/0\/complete","value":true\}\]$/)
  assert.match(after, /^After:\nStandard rollout \(standard-rollout\) · version 2\n {2}0 ✓ Testing {5}started .* · completed .* by fake token · test\n {2}1 ● Staging {5}started .* · staging\n {2}2 ○ Production {2}waiting · production$/)

  // The new pipeline: completing QA starts Beta, with the PUT the demo shows.
  const [newBefore, newCompleting, newAfter] = fresh.split(/\n\n(?=Completing|After)/)
  assert.equal(
    newBefore,
    [
      'A new release pipeline: phases only move forward, so completing a phase starts the next.',
      'Before: ld-release status web progressive-checkout',
      'Progressive rollout (progressive-rollout) · version 0',
      '  0 ● QA                    started 2025-12-18 19:08 UTC · test',
      '  1 ○ Beta                  waiting',
      '  2 ○ General availability  waiting',
    ].join('\n'),
  )
  const beta = sampleNewPipelineRelease().phases[1]._id
  assert.ok(
    newCompleting.startsWith(`Completing phase 0 (QA) with ld-release complete web progressive-checkout QA, which starts phase 1 (Beta) with:\nPUT `),
    newCompleting,
  )
  assert.match(newCompleting, new RegExp(`^PUT http://127\\.0\\.0\\.1:\\d+/api/v2/projects/web/flags/progressive-checkout/release/phases/${beta}$`, 'm'))
  assert.match(newCompleting, /\nLD-API-Version: beta\n[^]*\n\n\{"status":"active"\}$/)
  assert.match(
    newAfter,
    /^After:\nProgressive rollout \(progressive-rollout\) · version 1\n {2}0 ✓ QA {20}started 2025-12-18 19:08 UTC · completed .* by fake token · test\n {2}1 ● Beta {18}started .* · staging\n {2}2 ○ General availability {2}waiting\n$/,
  )
  // Then a guarded release on the fake's fast clock: a few steps, a regression, the rollback, exit 4.
  const lines = guarded.trimEnd().split('\n')
  assert.match(lines[0], /^A guarded release: ld-release rollout start web new-checkout production --to Enabled --steps 1%:10m,5%:10m,10%:10m,25%:10m,50%:10m --metric checkout-errors --watch$/)
  assert.equal(lines[1], '(the fake runs 600× real time; at step 3 it reports a regression on checkout-errors)')
  assert.match(lines[2], /^\d{4}-\d\d-\d\d \d\d:\d\d · in_progress · phase 1\/1 step 1\/5 1% · checkout-errors ok · next step in 10m$/)
  assert.match(guarded, /step 3\/5 10% · checkout-errors ok/)
  assert.match(lines.at(-2), /· reverted \(reverted_regression_detected: a metric regressed and the release was rolled back\)$/)
  assert.equal(lines.at(-1), 'ld-release exits 4: reverted, so a deploy pipeline fails here.')
})

test('demo on a terminal (or FORCE_COLOR) sets its headings in bold; NO_COLOR and pipes do not', async () => {
  const bold = (text) => `\x1b[1m${text}\x1b[22m`
  const colored = await run(['demo'], { env: { FORCE_COLOR: '1' } })
  assert.equal(colored.code, 0, colored.err)
  assert.ok(colored.out.includes(`${bold('Before: ld-release status web new-checkout')}\n`), colored.out)
  assert.ok(colored.out.includes(`${bold('\nA legacy release pipeline.')}\n`))
  assert.ok(colored.out.includes(`${bold('\nAfter:')}\n`))
  const plain = await run(['demo'], { env: { NO_COLOR: '1' } })
  assert.doesNotMatch(plain.out, /\x1b/)
})

test('fake --speed runs the clock of environment releases that many times faster', async () => {
  const runIn = async (argv) => {
    const out = []
    const code = await main(argv, { out: (text) => out.push(text), err: () => {}, readStdin: () => '', env: {} })
    return { code, out: out.join('\n') }
  }
  const statusAfter = async (speed) => {
    let status
    const r = await run(['fake', '--env', 'dotenv', '--speed', speed], {
      untilStopped: async (printed) => {
        const auth = ['--base-uri', /^LD_BASE_URI=(\S+)$/m.exec(printed)[1], '--access-token', /^LD_ACCESS_TOKEN=(\S+)$/m.exec(printed)[1]]
        const where = ['web', 'new-checkout', 'production']
        assert.equal((await runIn(['rollout', 'start', ...where, '--to', 'Enabled', '--steps', '1%:10m,5%:10m', '--metric', 'checkout-errors', ...auth])).code, 0)
        await new Promise((resolve) => setTimeout(resolve, 50))
        status = (await runIn(['rollout', 'status', ...where, ...auth])).out
        return 'SIGTERM'
      },
    })
    assert.equal(r.code, 0, r.err)
    return /^ {2}status: (\S+)/m.exec(status)[1]
  }
  // Twenty minutes of steps: still at the first in real time, over in 50 ms at a million times.
  assert.equal(await statusAfter('1'), 'in_progress')
  assert.equal(await statusAfter('1000000'), 'completed')
})

test('--verbose: a line per request on stderr, the token masked even in the URL, and nothing once the command is over', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  const lines = []
  const io = { out: () => {}, err: (text) => lines.push(text), readStdin: () => '', env: {} }
  assert.equal(await main(['status', 'web', 'new-checkout', '--verbose', '--access-token', server.apiKey, '--base-uri', server.url], io), 0)
  assert.equal(lines.length, 1)
  assert.match(lines[0], new RegExp(`^GET ${server.url.replace(/\./g, '\\.')}/api/v2/flags/web/new-checkout/release -> 200 in \\d+ ms$`))
  // A token in the base URI's path (a proxy's, say): masked on each line.
  assert.equal(await main(['status', 'web', 'new-checkout', '--verbose', '--access-token', server.apiKey, '--base-uri', `${server.url}/${server.apiKey}`], io), 1)
  assert.match(lines[1], /^GET http:\/\/127\.0\.0\.1:\d+\/\*{4}[0-9a-f]{4}\/api\/v2\/flags\/web\/new-checkout\/release -> 404 in \d+ ms$/)
  assert.ok(!lines.join('\n').includes(server.apiKey))
  const quiet = await cli(server, ['status', 'web', 'new-checkout'])
  assert.deepEqual([quiet.code, quiet.err], [0, ''])
  assert.equal(lines.length, 3, 'the runs before, over, print no more')
})

test('the token is masked in what a server sends, at any length the library masks, taken from a variable as the library takes it (trimmed)', async (t) => {
  for (const token of ['tok-6ch', 'api-a-longer-token-0123456789']) {
    const server = await tinyServer(t, (req) => ({ body: { name: `Rollout (${req.headers.authorization}).`, releasePipelineKey: 'standard', phases: [] } }))
    const vars = { LD_ACCESS_TOKEN: ` ${token}\t`, LD_BASE_URI: server.url }
    await t.test(token, async (st) => {
      setEnv(st, vars)
      const r = await cli(null, ['status', 'web', 'checkout'], { env: vars, flags: false })
      assert.equal(r.code, 0, r.err)
      assert.ok(!r.out.includes(token), r.out)
      assert.match(r.out, /^Rollout \(\*{4}(\w{4})?\)\. \(standard\)/)
    })
  }
})

test('a --dry-run shows the token it would send masked wherever it is, --data included', async (t) => {
  const server = await startFakeLaunchDarkly({ releases: sampleReleases() })
  t.after(() => server.close())
  const data = JSON.stringify([{ op: 'replace', path: '/name', value: server.apiKey }])
  for (const json of [[], ['--json']]) {
    const r = await cli(server, ['patch', 'web', 'dark-mode', '--data', data, '--dry-run', ...json])
    assert.equal(r.code, 0, r.err)
    assert.ok(!r.out.includes(server.apiKey), r.out)
    assert.ok(r.out.includes(`****${server.apiKey.slice(-4)}`))
  }
})
