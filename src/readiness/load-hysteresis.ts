/** What one arrival or departure did to the cooldown state. */
export type CooldownTransition = 'entered' | 'left' | 'none';

export interface LoadSnapshot {
  readonly clients: number;
  readonly cooldown: boolean;
  readonly ready: boolean;
  readonly minClients: number;
  readonly maxClients: number;
}

/**
 * In-flight client count with cooldown hysteresis (seed 000): cooldown starts when the
 * count reaches `max` and ends only once it drops below `min`, so readiness does not
 * flap at the threshold. State moves on each arrival and departure, never on a read,
 * so every snapshot is current. Pure: no clock, no I/O.
 */
export class LoadHysteresis {
  private clientCount = 0;
  private inCooldown = false;

  constructor(
    readonly minClients: number,
    readonly maxClients: number,
  ) {
    if (!Number.isInteger(minClients) || !Number.isInteger(maxClients) || minClients < 1 || minClients > maxClients) {
      throw new RangeError(`need integers 1 <= min <= max, got min=${minClients} max=${maxClients}`);
    }
  }

  get clients(): number {
    return this.clientCount;
  }

  get cooldown(): boolean {
    return this.inCooldown;
  }

  get ready(): boolean {
    return !this.inCooldown && this.clientCount < this.maxClients;
  }

  arrive(): CooldownTransition {
    this.clientCount += 1;
    if (!this.inCooldown && this.clientCount >= this.maxClients) {
      this.inCooldown = true;
      return 'entered';
    }
    return 'none';
  }

  leave(): CooldownTransition {
    if (this.clientCount === 0) throw new Error('leave() without a matching arrive()');
    this.clientCount -= 1;
    if (this.inCooldown && this.clientCount < this.minClients) {
      this.inCooldown = false;
      return 'left';
    }
    return 'none';
  }

  snapshot(): LoadSnapshot {
    return {
      clients: this.clientCount,
      cooldown: this.inCooldown,
      ready: this.ready,
      minClients: this.minClients,
      maxClients: this.maxClients,
    };
  }
}
