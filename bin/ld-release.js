#!/usr/bin/env node
'use strict'

// A reader that stops early (`ld-release status … | head -1`) is not an error.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err
})

require('../lib/cli/main.js')
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code
    },
    (err) => {
      console.error(err)
      process.exitCode = 1
    },
  )
