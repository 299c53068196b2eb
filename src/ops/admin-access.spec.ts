import { describe, expect, it } from '@jest/globals';
import { AdminAccess, presentedToken } from './admin-access.js';

const TOKEN = 'correct-horse-battery-staple';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('presentedToken', () => {
  it.each([
    [`Bearer ${TOKEN}`, TOKEN],
    [`bearer ${TOKEN}`, TOKEN],
    [basic('admin', TOKEN), TOKEN],
    [basic('', TOKEN), TOKEN],
    [basic('admin', 'with:colon'), 'with:colon'],
    [`Basic ${Buffer.from('no-colon').toString('base64')}`, undefined],
    ['Digest abc', undefined],
    ['Bearer', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j presents %j', (header, expected) => {
    expect(presentedToken(header)).toBe(expected);
  });
});

describe('AdminAccess', () => {
  it('without a token everything is allowed', () => {
    const access = new AdminAccess(undefined);
    expect(access.required).toBe(false);
    expect(access.allowsHeader(undefined)).toBe(true);
    expect(access.allowsToken(undefined)).toBe(true);
  });

  it('with a token only the exact token is allowed, by header or bare', () => {
    const access = new AdminAccess(TOKEN);
    expect(access.required).toBe(true);
    expect(access.allowsHeader(`Bearer ${TOKEN}`)).toBe(true);
    expect(access.allowsHeader(basic('anyone', TOKEN))).toBe(true);
    expect(access.allowsToken(TOKEN)).toBe(true);
    for (const wrong of [undefined, '', `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, basic(TOKEN, 'x'), `Token ${TOKEN}`]) {
      expect(access.allowsHeader(wrong)).toBe(false);
    }
    for (const wrong of [undefined, '', 42, { token: TOKEN }, TOKEN.toUpperCase()]) expect(access.allowsToken(wrong)).toBe(false);
  });
});
