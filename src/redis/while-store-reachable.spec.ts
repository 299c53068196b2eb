import { describe, expect, it } from '@jest/globals';
import { ReplyError } from 'ioredis';
import { StoreUnavailableError } from '../errors/index.js';
import { whileStoreReachable } from './while-store-reachable.js';

describe('whileStoreReachable', () => {
  it('runs the command when the gate says yes, with or without a promise', async () => {
    await expect(
      whileStoreReachable(
        async () => 'stored',
        () => true,
      ),
    ).resolves.toBe('stored');
    await expect(
      whileStoreReachable(
        async () => 'stored',
        async () => true,
      ),
    ).resolves.toBe('stored');
    await expect(whileStoreReachable(async () => 'stored')).resolves.toBe('stored');
  });

  it('fails at once, without sending, when the gate says no, with or without a promise', async () => {
    let sent = 0;
    const command = async () => ++sent;
    await expect(whileStoreReachable(command, () => false)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(whileStoreReachable(command, async () => false)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(sent).toBe(0);
  });

  it('turns a connection failure into StoreUnavailableError', async () => {
    const lost = async () => {
      throw new Error('Connection is closed.');
    };
    await expect(whileStoreReachable(lost, () => true)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('rethrows what Redis itself replied with: that is a bug, not an outage', async () => {
    const wrongType = new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
    const command = async () => {
      throw wrongType;
    };
    await expect(whileStoreReachable(command, () => true)).rejects.toBe(wrongType);
  });

  it.each([
    'READONLY You cannot write against a read only replica.',
    'LOADING Redis is loading the dataset in memory',
    'CLUSTERDOWN The cluster is down',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'MOVED 3999 127.0.0.1:6381',
    'MASTERDOWN Link with MASTER is down',
  ])(
    'turns the failover reply "%s" into StoreUnavailableError: the command was not run and will work on the new primary',
    async (message) => {
      const command = async () => {
        throw new ReplyError(message);
      };
      await expect(whileStoreReachable(command, () => true)).rejects.toBeInstanceOf(StoreUnavailableError);
    },
  );
});
