#!/usr/bin/env node
'use strict'

// Exit codes: 0 success, 1 an API or network error, 2 a usage error, 3 the output could
// not be written (see lib/cli/main.js).
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
