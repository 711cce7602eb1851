// ESLint flat config: typescript-eslint's type-aware rules (floating and misused promises above all: an
// unawaited publish or Redis write is a lost event or a missed heat OFF). Formatting is Prettier's job.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'test-artifacts/', 'config/generated/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `_name` marks a parameter or binding kept on purpose (express error handlers need four arguments).
      // Topic and payload checks look for NUL and control characters on purpose.
      'no-control-regex': 'off',
      // Units and handlers implement interfaces that return promises (start/stop, route handlers); an `async` body
      // with nothing to await is the plain way to honour them, and floating promises are caught above.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          caughtErrors: 'none',
        },
      ],
    },
  },
  {
    // Tests read JSON documents and answers whose shape the assertions themselves check.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // The dashboard's browser script and this file are plain JavaScript outside the TypeScript project.
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['src/http/dashboard/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        localStorage: 'readonly',
        sessionStorage: 'readonly',
        location: 'readonly',
        URL: 'readonly',
        URLSearchParams: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        console: 'readonly',
        Chart: 'readonly',
        getComputedStyle: 'readonly',
        Intl: 'readonly',
        history: 'readonly',
        navigator: 'readonly',
        AbortController: 'readonly',
        Event: 'readonly',
        HTMLElement: 'readonly',
        FormData: 'readonly',
        alert: 'readonly',
        confirm: 'readonly',
      },
    },
  },
);
