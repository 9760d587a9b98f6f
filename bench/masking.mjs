// What masking the token costs as a process holds more clients: every error is masked
// against every token the process holds (so a token reaches no error, whatever client
// made it), and that must stay cheap with thousands of clients alive.
//
// Each run is a fresh Node process that times errors with 1 client alive, then makes
// `--clients` more clients (each with its own token) and times the same errors again:
// - a call refused for a bad argument (no request: the error is built and masked);
// - a call answered 400 by a server on 127.0.0.1 whose message and body (4 KB) hold no
//   token (all of it is searched);
// - the same, the message echoing the token of the client that made the call.
// The figure compared is the ratio of the two in the same process: with an index over
// the tokens it stays near 1; a scan per token grows with the number of clients.
//
//   node bench/masking.mjs [--runs 5] [--clients 2000] [--errors 200]
import { execFileSync } from 'node:child_process'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { fmt, printTable, summary, writeResults } from './stats.mjs'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    clients: { type: 'string', default: '2000' },
    errors: { type: 'string', default: '200' },
    child: { type: 'boolean', default: false },
  },
})
const addon = fileURLToPath(new URL('../index.js', import.meta.url))
/** A token of its own for client `i`: 40 characters, no 8 of them shared with another's. */
const tokenOf = (i) => `api-${(BigInt(i + 1) * 0x9e3779b97f4a7c15n).toString(16).padStart(16, '0').slice(-16)}-${String(i).padStart(6, '0')}-bench-mask`

async function child(clients, errors) {
  const { createRequire } = await import('node:module')
  const { ReleaseClient } = createRequire(import.meta.url)(addon)
  const filler = 'x'.repeat(4096)
  let echo = ''
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ code: 'invalid_request', message: `refused ${echo} ${filler}` }))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const baseUrl = `http://127.0.0.1:${server.address().port}`
  const client = new ReleaseClient({ apiKey: tokenOf(0), baseUrl, maxRetries: 0 })
  const cases = {
    'a bad argument (no request)': () => client.getRelease('', 'flag'),
    'a 400 with a 4 KB message': () => ((echo = ''), client.getRelease('web', 'flag')),
    'a 400 echoing the token': () => ((echo = tokenOf(0)), client.getRelease('web', 'flag')),
  }
  const time = async () => {
    const out = {}
    for (const [name, call] of Object.entries(cases)) {
      for (let i = 0; i < 20; i++) await call().catch(() => {})
      const started = process.hrtime.bigint()
      for (let i = 0; i < errors; i++) {
        const error = await call().then(() => null, (e) => e)
        if (!error || (name.includes('echo') && error.message.includes(tokenOf(0)))) throw new Error(`${name}: not an error with the token masked`)
      }
      out[name] = Number(process.hrtime.bigint() - started) / 1e6 / errors
    }
    return out
  }
  await time() // warm-up: the first round pays for connections and the JIT
  const one = await time()
  const alive = Array.from({ length: clients }, (_, i) => new ReleaseClient({ apiKey: tokenOf(i + 1), baseUrl, maxRetries: 0 }))
  const many = await time()
  server.close()
  process.stdout.write(JSON.stringify({ one, many, alive: alive.length + 1 }))
}

if (values.child) {
  await child(Number(values.clients), Number(values.errors))
} else {
  const runs = Number(values.runs)
  const results = []
  for (let run = 0; run < runs; run++) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--clients', values.clients, '--errors', values.errors], { encoding: 'utf8' })
    results.push(JSON.parse(out))
  }
  const names = Object.keys(results[0].one)
  const rows = names.map((name) => {
    const one = summary(results.map((r) => r.one[name]))
    const many = summary(results.map((r) => r.many[name]))
    const ratio = summary(results.map((r) => r.many[name] / r.one[name]))
    return [name, fmt(one, 3), fmt(many, 3), fmt(ratio)]
  })
  printTable(`Masking: ms per error with 1 client alive and with ${Number(values.clients) + 1} (${runs} runs, ${values.errors} errors each)`, ['error', '1 client (ms)', `${Number(values.clients) + 1} clients (ms)`, 'ratio'], rows)
  console.log(`\nresults: ${writeResults('masking', { clients: Number(values.clients), errors: Number(values.errors), results })}`)
}
