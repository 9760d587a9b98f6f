'use strict'
// The one way text a server sent reaches a terminal: `inert` masks the access token in
// it (whole, in pieces, in any encoding, as the library masks it) and shows every
// control character escaped, so that no answer can move the cursor, clear the screen,
// set a window title, start a new line or reorder what is shown around it.

/**
 * C0 controls (newlines and tabs too), DEL, C1 controls, the line and paragraph
 * separators, and the bidirectional formatting characters (marks, embeddings,
 * overrides, isolates).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/** `\u{1b}` for ESC: how an unsafe character is shown. */
const escaped = (c) => `\\u{${c.codePointAt(0).toString(16)}}`

/**
 * `value` (any value; `null` and `undefined` are empty) as text a terminal shows as it
 * is: the token masked by `mask` (the CLI's `ctx.redact`), then every unsafe character
 * escaped as `\u{…}`.
 */
function inert(value, mask = (text) => text) {
  return mask(String(value ?? '')).replace(UNSAFE, escaped)
}

/**
 * `value` as JSON for a terminal: `JSON.stringify` (which escapes C0 controls), the token
 * masked by `mask`, and the unsafe characters it leaves (DEL, C1, bidirectional
 * controls, separators) as JSON escapes (`\u009b`), so the output is still the same JSON.
 */
function inertJson(value, mask = (text) => text, space = 2) {
  const text = JSON.stringify(value, null, space)
  // A raw newline is JSON's own layout: JSON.stringify escapes those in strings.
  return mask(text).replace(UNSAFE, (c) => (c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
}

module.exports = { UNSAFE, inert, inertJson }
