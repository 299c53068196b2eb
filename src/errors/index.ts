export { AdminTokenRequiredError } from './admin.errors.js';
export { DomainError, type DomainErrorKind } from './domain-error.js';
export { InvalidInputError } from './invalid-input.error.js';
export { InvalidItemIdError, ItemAlreadyExistsError, ItemNotFoundError } from './items.errors.js';
export { ERROR_MESSAGES } from './messages.js';
export { SmartCallFailedError, type SmartFailureReason } from './smart.errors.js';
export { StoreUnavailableError } from './store-unavailable.error.js';
export {
  IdempotencyKeyReusedError,
  InvalidIdempotencyKeyError,
  InvalidTaskInputError,
  ShuttingDownError,
  TaskFinishedError,
  TaskNotFailedError,
  TaskNotFoundError,
  TaskNotReplicatedError,
  UnknownTaskTypeError,
} from './tasks.errors.js';
export { ViewAssetNotFoundError } from './views.errors.js';
