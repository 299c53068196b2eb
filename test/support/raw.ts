import { connect } from 'node:net';

/**
 * Writes `text` as-is on a fresh TCP connection and resolves with everything read until the
 * response's announced body is complete or the server closes: for requests an HTTP client
 * library would refuse to send (two Host headers, CONNECT, absolute-form targets).
 */
export function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const split = data.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(data)?.[1];
      if (split !== -1 && length && data.length - split - 4 >= Number(length)) {
        socket.destroy();
        resolve(data);
      }
    });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write(text);
  });
}
