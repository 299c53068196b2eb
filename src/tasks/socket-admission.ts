import type { WebSocket } from 'ws';
import type { AdminAccess } from '../ops/admin-access.js';

/**
 * Which sockets may follow every task (`subscribe {"all": true}`): those whose upgrade request
 * carried ADMIN_TOKEN, or that later sent it in a frame; every socket when no token is set.
 */
export class SocketAdmission {
  private readonly admins = new WeakSet<WebSocket>();

  constructor(private readonly access: AdminAccess) {}

  /** Remembers a socket whose upgrade request was authorised. */
  connected(socket: WebSocket, authorization: string | undefined): void {
    if (this.access.allowsHeader(authorization)) this.admins.add(socket);
  }

  /** Whether the socket may follow all tasks, granting it for good when `token` is right. */
  mayFollowAll(socket: WebSocket, token: unknown): boolean {
    if (this.admins.has(socket)) return true;
    if (!this.access.allowsToken(token)) return false;
    this.admins.add(socket);
    return true;
  }
}
