import { z } from 'zod';
import { CLIENT_FRAMES, SERVER_FRAMES } from './ws-frames.js';

const CLOSE_CODES =
  '1009: a frame over WS_MAX_FRAME_BYTES; 1012: the instance restarts (after a `shutdown` frame); 1013: the socket fell more than WS_MAX_BUFFERED_BYTES behind (it stopped reading); 1006 without a close frame: it missed a heartbeat ping.';

function message(name: string, schema: z.ZodType): object {
  const { $schema: _dialect, ...payload } = z.toJSONSchema(schema, { target: 'draft-7', io: 'output' }) as Record<string, unknown>;
  return { name, title: name, contentType: 'application/json', summary: schema.meta()?.description, payload };
}

/** The AsyncAPI 3 document of /ws, served at /asyncapi.json (built once, from ws-frames.ts). */
export function asyncApiDocument(version: string): object {
  const messages: Record<string, object> = {};
  for (const [name, schema] of [...Object.entries(SERVER_FRAMES), ...Object.entries(CLIENT_FRAMES)]) messages[name] = message(name, schema);
  const ref = (name: string) => ({ $ref: `#/channels/tasks/messages/${name}` });
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'ballast task status',
      version,
      description: `Live task status over plain WebSockets (RFC 6455). Frames are JSON text \`{"event", "data"}\`. Close codes: ${CLOSE_CODES}`,
    },
    servers: {
      service: { host: 'localhost:8000', protocol: 'ws', description: 'A service, or the balancer (port 8080), which tunnels /ws' },
    },
    channels: {
      tasks: {
        address: '/ws',
        title: 'Task status',
        description:
          'Connect with ?clientId= to get the frames of the tasks created with that clientId unasked, and their present on connect.',
        messages,
        bindings: {
          ws: {
            method: 'GET',
            query: { type: 'object', properties: { clientId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,128}$' } } },
          },
        },
      },
    },
    operations: {
      ...Object.fromEntries(
        Object.keys(SERVER_FRAMES).map((name) => [
          `send${name[0].toUpperCase()}${name.slice(1)}`,
          { action: 'send', channel: { $ref: '#/channels/tasks' }, messages: [ref(name)] },
        ]),
      ),
      receiveSubscribe: { action: 'receive', channel: { $ref: '#/channels/tasks' }, messages: [ref('subscribe')] },
    },
  };
}
