// Starts bench/fake-server.mjs as a child process and talks to it line by line.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export async function startFakeProcess(options = {}) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fake-server.mjs', import.meta.url)), JSON.stringify(options)], {
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
