import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { envSchema } from './config.schema.js';

/** The variables docs/configuration.md documents: every `NAME` in the first column of its table. */
function documentedVariables(): string[] {
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const names: string[] = [];
  for (const line of doc.split('\n')) {
    const firstCell = /^\|([^|]+)\|/.exec(line)?.[1];
    if (!firstCell) continue;
    for (const match of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.push(match[1]);
  }
  return names;
}

describe('docs/configuration.md', () => {
  const schemaKeys = Object.keys(envSchema.shape).sort();
  const documented = documentedVariables();

  it('documents every variable the config schema reads', () => {
    expect(schemaKeys.filter((key) => !documented.includes(key))).toEqual([]);
  });

  it('documents nothing the schema does not read, each once', () => {
    expect(documented.filter((name) => !schemaKeys.includes(name))).toEqual([]);
    expect(documented.filter((name, index) => documented.indexOf(name) !== index)).toEqual([]);
  });
});
