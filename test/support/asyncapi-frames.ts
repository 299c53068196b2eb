import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { API_VERSION } from '../../src/ops/api-version.js';
import { asyncApiDocument } from '../../src/tasks/asyncapi.js';

type Message = { name: string; payload: object };

/**
 * Every frame the e2e suite receives is checked against the AsyncAPI document's messages (the
 * document /asyncapi.json serves: test/openapi.e2e-spec.ts checks that and validates it with
 * the AsyncAPI parser). A frame no message describes is a protocol error of the test socket.
 */
const validators = (() => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormats as unknown as (ajv: Ajv) => void)(ajv);
  const document = asyncApiDocument(API_VERSION) as { channels: { tasks: { messages: Record<string, Message> } } };
  const byEvent = new Map<string, ValidateFunction>();
  for (const message of Object.values(document.channels.tasks.messages)) byEvent.set(message.name, ajv.compile(message.payload));
  return byEvent;
})();

/** Why `frame` does not match the document, or undefined when it does. */
export function frameMismatch(frame: unknown): string | undefined {
  const event = (frame as { event?: unknown })?.event;
  const validate = typeof event === 'string' ? validators.get(event) : undefined;
  if (!validate) return `a frame with event ${JSON.stringify(event)}, which the AsyncAPI document does not describe`;
  if (validate(frame)) return undefined;
  return `a "${event}" frame the AsyncAPI document refuses: ${validate.errors!.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')} (${JSON.stringify(frame).slice(0, 300)})`;
}
