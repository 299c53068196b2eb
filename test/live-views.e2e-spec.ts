import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS_DIR, describeWithBrowser, launchChromium } from './support/browser.js';
import { http } from './support/http.js';
import { startFleet } from './support/fleet.js';
import { useProcesses, type ServiceProcess } from './support/process.js';
import { describeWithRedis } from './support/redis.js';

const TOKEN = 'live-views-admin-token-0123456789';
/** Playwright's own waits: long enough for a loaded 2-core machine, short enough to fail fast. */
const UI_TIMEOUT_MS = 15_000;

/**
 * The status pages in a real browser (system Chromium through playwright-core), against a
 * real fleet: Redis, three services and the balancer, all with ADMIN_TOKEN set. The browser
 * logs in the way a person does, with HTTP Basic.
 */
describeWithRedis('live views', (redis) => {
  describeWithBrowser('live views in Chromium', () => {
    const processes = useProcesses();
    let browser: Browser;
    let context: BrowserContext;
    let services: ServiceProcess[];
    let balancer: ServiceProcess;

    beforeAll(async () => {
      browser = await launchChromium();
      context = await browser.newContext({
        httpCredentials: { username: 'admin', password: TOKEN },
        viewport: { width: 1280, height: 760 },
      });
      context.setDefaultTimeout(UI_TIMEOUT_MS);
      ({ services, balancer } = await startFleet(processes, {
        services: 3,
        redis: redis(),
        serviceEnv: () => ({ ADMIN_TOKEN: TOKEN, SHUTDOWN_GRACE_MS: '15000' }),
        // Passive ejection only, with a long downtime: a killed backend's row stays ejected.
        balancerEnv: { ADMIN_TOKEN: TOKEN, HEALTH_CHECK_INTERVAL_MS: '0', RETRY_DOWNTIME_MS: '60000' },
      }));
    });

    afterAll(async () => {
      await context?.close();
      await browser?.close();
    });

    const open = async (path: string): Promise<Page> => {
      const page = await context.newPage();
      await page.goto(`${balancer.baseUrl}${path}`);
      return page;
    };
    const screenshot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS_DIR}${name}.png`, fullPage: true });

    it('/_balancer/status shows every backend, and a killed backend turns ejected (red) once traffic finds it', async () => {
      const page = await open('/_balancer/status');
      await page.locator('tr[data-state="up"]').nth(2).waitFor();
      const refreshedAt = await page.textContent('[data-testid="refreshed"]');

      const victim = services[2];
      victim.kill('SIGKILL');
      await victim.exited();
      // Round robin reaches the dead backend within three requests; each still answers 200 (retried).
      for (let i = 0; i < 3; i += 1) expect((await http(`${balancer.baseUrl}/ping`)).status).toBe(200);

      const row = page.locator(`tr[data-backend="${victim.baseUrl}"]`);
      await row.locator('[data-testid="state"]', { hasText: 'ejected' }).waitFor();
      await expect(row.getAttribute('class')).resolves.toBe('bad');
      await expect(row.textContent()).resolves.toMatch(/ejected: (connect|reset)/);
      await expect(page.locator('tr[data-state="up"]').count()).resolves.toBe(2);
      // It keeps refreshing on its own, every second.
      await page.locator('[data-testid="refreshed"]').filter({ hasNotText: refreshedAt! }).waitFor();
      await screenshot(page, 'balancer-status');
      await page.close();
    });

    it('/status shows a task created through the API go live to completed, its progress bar at 100%', async () => {
      const page = await open('/status');
      await page.locator('[data-testid="socket"]', { hasText: 'socket: live' }).waitFor();
      await page.locator('[data-testid="readiness"]', { hasText: 'ready' }).waitFor();
      // How it reaches Redis: the mode, the primary it is connected to (a Cluster's primaries), and the replicas' lag.
      const described = {
        standalone: /^standalone · primary 127\.0\.0\.1:\d+$/,
        sentinel: /^sentinel · primary 127\.0\.0\.1:\d+ · 2 replicas, lag ≤ \d+ s, ≤ \d+ B behind$/,
        cluster: /^cluster · primaries (127\.0\.0\.1:\d+(, )?){3} · 3 replicas, lag ≤ \d+ s, ≤ \d+ B behind$/,
      }[redis().mode];
      await page.locator('[data-testid="redis"]', { hasText: described }).waitFor();

      const { status, body } = await http(`${balancer.baseUrl}/tasks`, {
        method: 'POST',
        json: { durationMs: 2000, payload: 'seen in a browser' },
      });
      expect(status).toBe(202);
      const row = page.locator(`tr[data-task-id="${body.id}"]`);
      await page.locator(`tr[data-task-id="${body.id}"][data-status="active"]`).waitFor();
      await page.locator(`tr[data-task-id="${body.id}"][data-status="completed"]`).waitFor();
      await expect(row.locator('[role="progressbar"]').getAttribute('aria-valuenow')).resolves.toBe('100');
      await expect(row.locator('[role="progressbar"] > span').getAttribute('style')).resolves.toBe('width: 100%;');
      await expect(row.textContent()).resolves.toContain('seen in a browser');
      await expect(page.locator('[data-state="completed"]').textContent()).resolves.toMatch(/^completed [1-9]/);
      // The task list came from GET /tasks and the live feed from `subscribe all`: neither was refused.
      await expect(page.locator('#tasks-banner').isHidden()).resolves.toBe(true);
      await screenshot(page, 'service-status');
      await page.close();
    });

    it('/status reconnects by itself when its service drains (1012), says so, and stays live', async () => {
      const page = await open('/status');
      await page.locator('[data-testid="socket"]', { hasText: 'socket: live' }).waitFor();
      const instance = (await page.textContent('#instance'))!;
      const drained = services.slice(0, 2).find((service) => instance.includes(`-${service.child.pid}-`))!;
      expect(drained).toBeDefined();

      drained.kill('SIGTERM');
      await page.locator('[data-testid="socket-log"]', { hasText: /reconnected 1× .* after close 1012 \(service restart\)/ }).waitFor();
      await page.locator('[data-testid="socket"]', { hasText: 'socket: live (reconnected 1×)' }).waitFor();
      await expect(page.textContent('#instance')).resolves.not.toBe(instance);
      await expect(drained.exited()).resolves.toEqual({ code: 0, signal: null });

      const { body } = await http(`${balancer.baseUrl}/tasks`, { method: 'POST', json: { durationMs: 200 } });
      await page.locator(`tr[data-task-id="${body.id}"][data-status="completed"]`).waitFor();
      await page.close();
    });

    it('/queues shows Bull Board over the task queue', async () => {
      const page = await open('/queues');
      await page.getByText('ballast-tasks').first().waitFor();
      await expect(page.title()).resolves.toBe('ballast tasks');
      await screenshot(page, 'queues');
      await page.close();
    });
  });
});
