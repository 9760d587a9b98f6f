// lib/cli/main.js's own commands run in this process (`main` with a recording io):
// `fake` in the foreground (its variables in each shell's words, what it says, how it
// stops) and `demo`. cli.test.mjs runs them as users do, through the binary; these are
// the fast checks of main.js itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { main } = require('../lib/cli/main.js')

/**
 * Runs the CLI with `argv`; `untilStopped` is what stands for SIGINT or SIGTERM (it may
 * first use the fake, from the variables printed). Lines keep their newline.
 */
async function run(argv, { untilStopped } = {}) {
  const out = []
  const err = []
  const io = { out: (text) => out.push(`${text}\n`), err: (text) => err.push(`${text}\n`), readStdin: () => '', env: {}, untilStopped: () => untilStopped(out.join('')) }
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
