import { describe, expect, it } from '@jest/globals';
import { parseReplicas } from './replication.js';

describe('parseReplicas', () => {
  it('reads each replica with its state, lag and how many bytes it is behind the primary', () => {
    const info = [
      '# Replication',
      'role:master',
      'connected_slaves:2',
      'slave0:ip=127.0.0.1,port=7004,state=online,offset=1000,lag=0',
      'slave1:ip=10.0.0.9,port=6379,state=wait_bgsave,offset=0,lag=3',
      'master_repl_offset:1200',
      '',
    ].join('\r\n');
    expect(parseReplicas(info, '127.0.0.1:7001')).toEqual([
      { address: '127.0.0.1:7004', of: '127.0.0.1:7001', state: 'online', lagSeconds: 0, behindBytes: 200 },
      { address: '10.0.0.9:6379', of: '127.0.0.1:7001', state: 'wait_bgsave', lagSeconds: 3, behindBytes: 1200 },
    ]);
  });

  it('is empty for a primary without replicas', () => {
    expect(parseReplicas('role:master\r\nconnected_slaves:0\r\nmaster_repl_offset:5\r\n', 'a:1')).toEqual([]);
  });
});
