'use strict'
// Text for a terminal: a Release (the pipeline, then one line per phase), a request
// preview, and a progress bar.

const MARKS = { done: '✓', active: '●', waiting: '○' }
const ANSI = { bold: [1, 22], dim: [2, 22], green: [32, 39], yellow: [33, 39], cyan: [36, 39] }

/**
 * Whether stdout-like `stream` should get colour: a TTY and no NO_COLOR. FORCE_COLOR
 * forces it (`0` or `false` turns it off); NO_COLOR wins over both.
 */
function wantsColor(stream, env = process.env) {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined) return !['0', 'false'].includes(env.FORCE_COLOR)
  return Boolean(stream && stream.isTTY)
}

function paint(color) {
  return (style, text) => (color ? `\x1b[${ANSI[style][0]}m${text}\x1b[${ANSI[style][1]}m` : text)
}

/** `2026-11-28 06:00 UTC` */
function formatTime(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return ''
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC'
}

/** Who completed a phase: member email, else token name, else the token's ending. */
function completedBy(phase) {
  const by = phase._completedBy
  if (!by) return ''
  if (by.member?.email) return by.member.email
  if (by.token?.name) return by.token.name
  if (by.token?.ending) return `token …${by.token.ending}`
  return ''
}

/** done / active / waiting, for each phase in order. */
function phaseStates(release) {
  let previousDone = true
  return release.phases.map((phase) => {
    let state
    if (phase.complete) state = 'done'
    else if (phase.started || phase.status === 'Started' || previousDone) state = 'active'
    else state = 'waiting'
    previousDone = phase.complete
    return state
  })
}

function environments(phase) {
  const names = (phase._audiences ?? []).map((a) => a.environment?.key ?? a.name).filter(Boolean)
  return names.length ? names.join(', ') : ''
}

/** The drawing of `release`; `color` adds ANSI styles. Ends without a newline. */
function renderRelease(release, { color = false } = {}) {
  const p = paint(color)
  const states = phaseStates(release)
  const nameWidth = Math.max(0, ...release.phases.map((ph) => ph._name.length))
  const indexWidth = String(Math.max(0, release.phases.length - 1)).length
  const lines = [`${p('bold', release.name)} (${release.releasePipelineKey}) · version ${release._version}`]
  release.phases.forEach((phase, i) => {
    const state = states[i]
    const mark = { done: p('green', MARKS.done), active: p('yellow', MARKS.active), waiting: p('dim', MARKS.waiting) }[state]
    const details = []
    if (phase._startedDate) details.push(`started ${formatTime(phase._startedDate)}`)
    if (phase.complete) {
      const who = completedBy(phase)
      details.push(['completed', formatTime(phase._completionDate), who && `by ${who}`].filter(Boolean).join(' '))
    } else if (phase.status === 'Paused') {
      details.push('paused')
    } else if (state === 'waiting') {
      details.push('waiting')
    }
    const envs = environments(phase)
    if (envs) details.push(p('cyan', envs))
    const name = phase._name.padEnd(nameWidth)
    lines.push(`  ${String(i).padStart(indexWidth)} ${mark} ${state === 'waiting' ? p('dim', name) : name}  ${details.join(' · ')}`.trimEnd())
  })
  if (release._canceledAt) lines.push(`  canceled ${formatTime(release._canceledAt)}`)
  return lines.join('\n')
}

/** A request preview as the request would go out: the request line, headers, then the body. */
function renderPreview(preview) {
  const lines = [`${preview.method} ${preview.url}`, ...Object.entries(preview.headers).map(([k, v]) => `${k}: ${v}`)]
  if (preview.body !== undefined && preview.body !== null) lines.push('', preview.body)
  return lines.join('\n')
}

/** A progress bar drawn in place on `stream`: `update(done, total)`, then `done()`. */
function progressBar(stream, width = 30) {
  let last = ''
  return {
    update(done, total) {
      const filled = Math.round((done / Math.max(1, total)) * width)
      const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`
      if (line !== last) stream.write(`\r${line}`)
      last = line
    },
    done() {
      if (last) stream.write('\n')
    },
  }
}

module.exports = { renderRelease, renderPreview, progressBar, formatTime, phaseStates, wantsColor }
