import js from '@eslint/js'
import globals from 'globals'

export default [
  {
    ignores: ['target/**', 'node_modules/**', 'npm/**', 'index.js', 'index.d.ts', 'fuzz/**', 'bench/results/**', '.stryker-tmp/**', '.stryker-split/**', 'reports/**'],
  },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', ecmaVersion: 2023, globals: { ...globals.node } },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2023, globals: { ...globals.node } },
  },
  {
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests match ANSI escape sequences on purpose.
    files: ['__test__/**'],
    rules: { 'no-control-regex': 'off' },
  },
]
