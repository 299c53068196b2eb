/** What one /api/work request does (the assignment's test server, as described publicly). */
export type WorkBehaviour =
  | { readonly kind: 'ok'; readonly delayMs: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'error'; readonly delayMs: number }
  | { readonly kind: 'invalid_json'; readonly delayMs: number };

export interface WorkProfile {
  readonly minMs: number;
  readonly maxMs: number;
  /** Each of these is the chance of that failure, independently of the others' kinds. */
  readonly hangRate: number;
  readonly errorRate: number;
  readonly invalidRate: number;
  /** Heavy tail: this share of successful requests takes `tailMs` instead. */
  readonly tailRate: number;
  readonly tailMs: number;
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
