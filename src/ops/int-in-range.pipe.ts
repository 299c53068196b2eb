import { Injectable, PipeTransform } from '@nestjs/common';
import { ERROR_MESSAGES, InvalidInputError } from '../errors/index.js';

/**
 * Parses an optional decimal integer query value within [min, max]; a missing value
 * takes the default. "10.5", "1e3", "" and out-of-range values are 400s that say why.
 */
@Injectable()
export class IntInRangePipe implements PipeTransform<unknown, number> {
  constructor(
    private readonly name: string,
    private readonly min: number,
    private readonly max: number,
    private readonly fallback?: number,
  ) {}

  transform(value: unknown): number {
    if (value === undefined && this.fallback !== undefined) return this.fallback;
    const raw = typeof value === 'string' ? value : '';
    const parsed = /^-?\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < this.min || parsed > this.max) {
      throw new InvalidInputError(ERROR_MESSAGES.input.intOutOfRange(this.name, this.min, this.max, String(value ?? '')));
    }
    return parsed;
  }
}
