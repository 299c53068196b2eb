// Nest 12 packages are ESM-only, so jest runs in native ESM mode
// (npm test passes --experimental-vm-modules) and ts-jest emits ESM.
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }];

const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  // Sources import siblings as './x.js' (NodeNext); jest resolves the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  testTimeout: 30000,
  testSequencer: '<rootDir>/test/support/sequencer.mjs',
  projects: [
    {
      ...shared,
      displayName: 'unit',
      roots: ['<rootDir>/src'],
      testMatch: ['**/*.spec.ts'],
      setupFiles: ['<rootDir>/test/support/quiet-nest-logs.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.e2e-spec.ts'],
      // Every process a spec spawns is recorded; the teardown kills what is left (see process.ts).
      globalSetup: '<rootDir>/test/support/global-setup.mjs',
      globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
      setupFilesAfterEnv: ['<rootDir>/test/support/after-each-file.ts'],
    },
  ],
};
