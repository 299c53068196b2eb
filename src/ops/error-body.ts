import { STATUS_CODES } from 'node:http';

/** The JSON body of every error response ballast sends. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  /** Same text as `message`: FastAPI clients of the seed services read `detail`. */
  detail: string;
  /** Each validation problem on its own, when there were several. */
  reasons?: string[];
}

export function errorBody(statusCode: number, message: string, reasons?: string[]): ErrorBody {
  const body: ErrorBody = {
    statusCode,
    error: STATUS_CODES[statusCode] ?? 'Error',
    message,
    detail: message,
  };
  if (reasons && reasons.length > 0) body.reasons = reasons;
  return body;
}
