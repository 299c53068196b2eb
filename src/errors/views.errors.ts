import { DomainError } from './domain-error.js';
import { ERROR_MESSAGES } from './messages.js';

export class ViewAssetNotFoundError extends DomainError {
  readonly kind = 'not_found';
  constructor(name: string) {
    super(ERROR_MESSAGES.views.assetNotFound(name));
  }
}
