// Starts bench/fake-server.mjs (or another server script) as a child process and talks
// to it line by line: it prints `{ url, apiKey }`, answers `stats` with a line, and
// exits on `close`.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const FAKE_SERVER = fileURLToPath(new URL('./fake-server.mjs', import.meta.url))

/** `args` are the script and its arguments before the options (as JSON). */
export async function startFakeProcess(options = {}, args = [FAKE_SERVER]) {
  const child = spawn(process.execPath, [...args, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  const waiting = []
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)))
  const next = () => new Promise((resolve) => waiting.push(resolve))
  const { url, apiKey } = await next()
  return {
    url,
    apiKey,
    pid: child.pid,
    async stats() {
      const answer = next()
      child.stdin.write('stats\n')
      return answer
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.stdin.end('close\n')
      await exited
    },
  }
}
