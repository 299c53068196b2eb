import { DomainError } from './domain-error.js';
import { ERROR_MESSAGES } from './messages.js';

export class ItemNotFoundError extends DomainError {
  readonly kind = 'not_found';
  constructor(id: number) {
    super(ERROR_MESSAGES.items.notFound(id));
  }
}

export class ItemAlreadyExistsError extends DomainError {
  readonly kind = 'conflict';
  constructor(id: number) {
    super(ERROR_MESSAGES.items.alreadyExists(id));
  }
}

export class InvalidItemIdError extends DomainError {
  readonly kind = 'invalid';
  constructor(raw: string) {
    super(ERROR_MESSAGES.items.invalidId(raw));
  }
}
