import { AsyncResource } from 'node:async_hooks';

/**
 * One object shaped like Node's tick objects, held for the life of the process: it keeps
 * their hidden classes alive, so V8's feedback for `process.nextTick` stays monomorphic.
 */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- never read: being referenced is its whole job
let heldTickShape: object | undefined;

/**
 * Keeps `process.nextTick` on V8's fast path for the life of the process.
 *
 * Node 20 builds every tick object with one literal,
 * `{ [async_id_symbol]: id, [trigger_async_id_symbol]: id, callback, args }`, and V8 defines
 * its properties through feedback slots that go from monomorphic straight to megamorphic when
 * they meet a second map. Those slots hold the maps weakly, and so do the transitions between
 * them: a full garbage collection at a moment no tick object is alive (a balancer's boot runs
 * several) frees the maps, the next tick objects get new ones, and from then on nextTick
 * defined each property of every tick object in V8's runtime, 3-5% of the balancer's CPU
 * (docs/benchmarks.md, "nextTick in ballast's processes").
 *
 * Held, one object built the same way keeps those maps alive. Built after one with other
 * kinds of values, its fields already have their most general representation, so no id a tick
 * object holds later (a small integer or a boxed double) can replace a map either. Call it
 * before the app boots; where the symbols are not Node 20's it does nothing.
 */
export function holdTickObjectShape(): void {
  const [asyncIdKey, triggerIdKey] = Object.getOwnPropertySymbols(new AsyncResource('ballast.tick-object-shape'));
  if (asyncIdKey?.description !== 'async_id_symbol' || triggerIdKey?.description !== 'trigger_async_id_symbol') return;
  // Thrown away at once: it only leaves every field at its most general representation.
  void { [asyncIdKey]: '', [triggerIdKey]: '', callback: '', args: '' };
  heldTickShape = { [asyncIdKey]: 0.5, [triggerIdKey]: 0.5, callback: holdTickObjectShape, args: [] };
}
