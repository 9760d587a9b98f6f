#!/usr/bin/env node
// Proof against LaunchDarkly's own models: installs LaunchDarkly's generated Python client
// (launchdarkly-api, pinned) from PyPI into a virtual environment cached under the temp
// directory, starts the fake LaunchDarkly on 127.0.0.1, and runs scripts/python-client/drive.py,
// which makes every environment-release and release-policy call of that client against it.
// The client's pydantic models validate each answer: one they reject fails the run.
//
// Needs python3 (with venv) and, the first time, PyPI. Not part of `npm test`; `.ci/run` runs
// it after. Usage: node scripts/python-client-test.mjs   (LD_PYTHON_VENV=<dir> to choose the venv)

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const CLIENT = 'launchdarkly-api==25.0.1'
const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)
const { startFakeLaunchDarkly } = require('../testing/index.js')
/** The fake's controls the driver may ask for. */
const CONTROLS = new Set(['advance', 'continueRelease', 'reportRegression', 'dismissRegression', 'setHealthChecks', 'setApprovalsRequired'])

const began = Date.now()
const venv = process.env.LD_PYTHON_VENV || join(tmpdir(), `ld-release-python-${CLIENT.replace(/[^\w.-]/g, '-')}`)
const python = join(venv, process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python')
const marker = join(venv, '.installed')

function run(command, args) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`})`)
}

if (!existsSync(marker)) {
  console.error(`python-client: installing ${CLIENT} into ${venv}`)
  mkdirSync(venv, { recursive: true })
  run('python3', ['-m', 'venv', venv])
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', CLIENT])
  writeFileSync(marker, `${CLIENT}\n`)
} else {
  console.error(`python-client: ${CLIENT} from ${venv}`)
}
const installed = Date.now()

const fake = await startFakeLaunchDarkly({ clock: { start: Date.UTC(2026, 9, 1) } })
let status
try {
  status = await drive(fake)
} finally {
  await fake.close()
}
const seconds = (ms) => (ms / 1000).toFixed(1)
console.error(`python-client: ${status === 0 ? 'passed' : 'FAILED'} in ${seconds(Date.now() - began)} s (venv ${seconds(installed - began)} s, driver ${seconds(Date.now() - installed)} s)`)
process.exitCode = status

/** Runs the driver, answering its CONTROL lines; resolves to its exit status (1 on a bad line). */
function drive(fake) {
  return new Promise((resolve) => {
    const child = spawn(python, [join(here, 'python-client', 'drive.py')], {
      env: { ...process.env, LD_BASE_URI: fake.url, LD_ACCESS_TOKEN: fake.apiKey, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    let result = null
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      if (line.startsWith('CONTROL ')) {
        const { method, args } = JSON.parse(line.slice(8))
        let answer
        try {
          if (!CONTROLS.has(method)) throw new Error(`not a control the driver may use: ${method}`)
          answer = { value: fake[method](...args) ?? null }
        } catch (e) {
          answer = { error: e.message }
        }
        child.stdin.write(`${JSON.stringify(answer)}\n`)
      } else if (line.startsWith('RESULT ')) {
        result = JSON.parse(line.slice(7))
      } else {
        console.error(`python-client: ${line}`)
      }
    })
    child.on('close', (code) => {
      if (code === 0 && result) {
        const calls = Object.entries(result.calls).map(([name, n]) => `${name} ×${n}`)
        console.error(`python-client: ${fake.requests.length} requests; every answer accepted by the models (${calls.join(', ')})`)
      }
      resolve(code === 0 && result ? 0 : 1)
    })
  })
}
