import type { AppConfig } from '../config/index.js';

/** What one /api/work request does (the assignment's test server, as described publicly). */
export type WorkBehaviour =
  | { readonly kind: 'ok'; readonly delayMs: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'error'; readonly delayMs: number }
  | { readonly kind: 'invalid_json'; readonly delayMs: number };

/** The simulator's knobs, as configured (WORK_*) or overridden per request. */
export type WorkProfile = AppConfig['work'];

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
