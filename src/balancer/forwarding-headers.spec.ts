import { describe, expect, it } from '@jest/globals';
import { clientResponseHeaders, upstreamRequestHeaders } from './forwarding-headers.js';

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop fields, those named in Connection, Host and Expect; sets X-Forwarded-*', () => {
    const out = upstreamRequestHeaders(
      {
        host: 'public.example',
        connection: 'keep-alive, X-Secret-Hop',
        'keep-alive': 'timeout=5',
        'x-secret-hop': '1',
        te: 'trailers',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'proxy-connection': 'keep-alive',
        expect: '100-continue',
        'content-type': 'application/json',
        'x-forwarded-for': '10.0.0.1',
      },
      { ip: '127.0.0.1', proto: 'http', host: 'public.example' },
    );
    expect(out).toEqual({
      'content-type': 'application/json',
      'x-forwarded-for': '10.0.0.1, 127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'public.example',
    });
  });
});

describe('clientResponseHeaders', () => {
  it('drops hop-by-hop fields and adds x-app-url', () => {
    expect(
      clientResponseHeaders(
        {
          connection: 'close, x-internal',
          'x-internal': 'a',
          'keep-alive': 'timeout=5',
          'set-cookie': ['a=1', 'b=2'],
          'content-length': '2',
        },
        'http://127.0.0.1:8001',
      ),
    ).toEqual({ 'set-cookie': ['a=1', 'b=2'], 'content-length': '2', 'x-app-url': 'http://127.0.0.1:8001' });
  });
});

describe('the common Connection values', () => {
  it.each(['keep-alive', 'Keep-Alive', 'close', 'CLOSE'])(
    '%s drops only the standard fields, and the input is left as it was',
    (connection) => {
      const incoming = { connection, 'keep-alive': 'timeout=5', 'x-kept': '1', 'content-length': '2' };
      const before = { ...incoming };
      expect(clientResponseHeaders(incoming, 'http://b')).toEqual({ 'x-kept': '1', 'content-length': '2', 'x-app-url': 'http://b' });
      expect(incoming).toEqual(before);
      expect(upstreamRequestHeaders(incoming, { ip: '1.2.3.4', proto: 'http', host: undefined })).toEqual({
        'x-kept': '1',
        'content-length': '2',
        'x-forwarded-for': '1.2.3.4',
        'x-forwarded-proto': 'http',
      });
    },
  );
});
