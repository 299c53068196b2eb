import type { AppConfig } from '../config/index.js';
import { ERROR_MESSAGES, InvalidInputError } from '../errors/index.js';

/** What one /api/work request does (the assignment's test server, as described publicly). */
export type WorkBehaviour =
  | { readonly kind: 'ok'; readonly delayMs: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'error'; readonly delayMs: number }
  | { readonly kind: 'invalid_json'; readonly delayMs: number };

/** The simulator's knobs, as configured (WORK_*) or overridden per request. */
export type WorkProfile = AppConfig['work'];

/** The query parameters that override a knob, and their largest values. */
const PARAMETERS: Record<string, { key: keyof WorkProfile; max: number }> = {
  min: { key: 'minMs', max: 600_000 },
  max: { key: 'maxMs', max: 600_000 },
  hang: { key: 'hangRate', max: 1 },
  error: { key: 'errorRate', max: 1 },
  invalid: { key: 'invalidRate', max: 1 },
  tail: { key: 'tailRate', max: 1 },
  tailMs: { key: 'tailMs', max: 600_000 },
};

/**
 * The configured profile with a request's overrides (`?min=&max=&hang=&error=&invalid=&tail=&tailMs=`).
 * An unknown parameter or a value out of range is an InvalidInputError that says which. Pure.
 */
export function profileFromQuery(defaults: WorkProfile, query: Readonly<Record<string, string>>): WorkProfile {
  const profile: Record<keyof WorkProfile, number> = { ...defaults };
  for (const [name, raw] of Object.entries(query)) {
    const parameter = PARAMETERS[name];
    if (!parameter) throw new InvalidInputError(ERROR_MESSAGES.simulator.unknownParameter(name));
    const value = Number(raw);
    if (raw === '' || !Number.isFinite(value) || value < 0 || value > parameter.max) {
      throw new InvalidInputError(ERROR_MESSAGES.simulator.outOfRange(name, parameter.max));
    }
    profile[parameter.key] = value;
  }
  if (profile.minMs > profile.maxMs) throw new InvalidInputError(ERROR_MESSAGES.simulator.minAboveMax);
  if (profile.hangRate + profile.errorRate + profile.invalidRate > 1) throw new InvalidInputError(ERROR_MESSAGES.simulator.ratesAboveOne);
  return profile;
}

/** Picks one behaviour from the profile with the given random numbers in [0, 1). Pure. */
export function pickBehaviour(profile: WorkProfile, random: () => number = Math.random): WorkBehaviour {
  const delayMs = Math.round(profile.minMs + random() * (profile.maxMs - profile.minMs));
  const roll = random();
  if (roll < profile.hangRate) return { kind: 'hang' };
  if (roll < profile.hangRate + profile.errorRate) return { kind: 'error', delayMs };
  if (roll < profile.hangRate + profile.errorRate + profile.invalidRate) return { kind: 'invalid_json', delayMs };
  if (random() < profile.tailRate) return { kind: 'ok', delayMs: profile.tailMs };
  return { kind: 'ok', delayMs };
}
