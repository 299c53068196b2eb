// nginx as the peer in front of the same backends: one worker, round robin, upstream keepalive.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, untilAnswers } from '../../test/support/spawn.mjs';

/** The nginx binary, or undefined when it is not installed (`apt-get install nginx`). */
export const NGINX = ['nginx', '/usr/sbin/nginx'].find((bin) => {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

/**
 * Starts nginx (1 worker, round robin, keepalive 128) in front of `backendUrls`; `http` and
 * `location` add directives to those blocks (a limit_req zone, say). Resolves once `probePath`
 * answers 200; `stop()` ends it (SIGQUIT, so the master stops its worker).
 */
export async function startNginx(backendUrls, { http = '', location = '', probePath = '/' } = {}) {
  if (!NGINX) throw new Error('nginx is not installed');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ballast-nginx-'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  ${http}
  upstream backends { ${backendUrls.map((u) => `server ${u.slice(7)};`).join(' ')} keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://backends; proxy_http_version 1.1; proxy_set_header Connection ""; ${location} }
  }
}
`,
  );
  const nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  let exited = false;
  const gone = once(nginx, 'exit').then(() => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}${probePath}`, { timeoutMs: 10_000, exited: () => exited });
  return {
    url,
    pid: nginx.pid,
    async stop() {
      if (exited) return;
      nginx.kill('SIGQUIT');
      await gone;
    },
  };
}
