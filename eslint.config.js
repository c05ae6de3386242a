// Lint rules: typescript-eslint's recommended set, type-aware where it catches real bugs.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers of src/, lowest first; a module may import its own folder and the layers below it:
// base (types, the Kubernetes client, logging, HTTP route contract, toolchain) → fleet (the
// cluster registry and placement) → the services (deploy, traffic, mesh, observe), which never
// import each other → the hub and the local fleet, which wire them → the CLI. Tests may import
// anything (fixtures come from where they are made).
const FOLDERS = ['fleet', 'deploy', 'traffic', 'mesh', 'observe', 'hub', 'localfleet', 'cli'];
const forbid = (...folders) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: folders.map((f) => ({
        group: [`**/${f}/**`],
        message: `src/ is layered (see eslint.config.js and docs/architecture.md): this module may not import ${f}/; move the shared piece down a layer.`,
      })),
    },
  ],
});
const layer = (files, ...folders) => ({ files, ignores: ['**/*.test.ts'], rules: forbid(...folders) });
const LAYERS = [
  layer(
    [
      'src/api/**',
      'src/kube/**',
      'src/dial/**',
      'src/tls/**',
      'src/logging/**',
      'src/http/**',
      'src/toolchain/**',
      'src/version.ts',
    ],
    ...FOLDERS,
  ),
  layer(['src/fleet/**'], ...FOLDERS.filter((f) => f !== 'fleet')),
  ...['deploy', 'traffic', 'mesh', 'observe'].map((s) =>
    layer([`src/${s}/**`], ...FOLDERS.filter((f) => f !== 'fleet' && f !== s)),
  ),
  layer(['src/hub/**'], 'localfleet', 'cli'),
  layer(['src/localfleet/**'], 'cli'),
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'console/dist/**', 'tools/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  ...LAYERS,
);
