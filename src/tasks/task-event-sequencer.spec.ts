import { describe, expect, it } from '@jest/globals';
import type { TaskUpdate, TaskView } from './task.js';
import { TaskEventSequencer, type TaskReads } from './task-event-sequencer.js';
import { taskView } from './task-view.js';

const queued = (id: string): TaskView =>
  taskView({ id, type: 'demo', status: 'queued', progress: 0, result: null, attempt: 0, attempts: 1, createdAt: 1 });
const view = (id: string, change: Partial<TaskView> = {}): TaskView => ({ ...queued(id), ...change });

/** Reads that answer when the test says so, in any order. */
function heldReads(answers: Record<string, TaskView>) {
  const pending: { id: string; resolve: () => void }[] = [];
  const read = (id: string) =>
    new Promise<TaskUpdate | undefined>((resolve) => pending.push({ id, resolve: () => resolve(answers[id] && { view: answers[id] }) }));
  const reads: TaskReads = { stored: read, finished: read };
  const release = (id: string) =>
    pending
      .splice(
        pending.findIndex((p) => p.id === id),
        1,
      )[0]
      .resolve();
  return { reads, pending, release };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('TaskEventSequencer', () => {
  it('does not send a finish its worker reported after that finish was read and sent: a retried task fails again with its new finish', async () => {
    const firstFailure = view('a', { status: 'failed', attempt: 3, attempts: 3, finishedAt: '2026-12-01T10:00:01.000Z' });
    const secondFailure = view('a', { status: 'failed', attempt: 3, attempts: 3, finishedAt: '2026-12-01T10:00:05.000Z' });
    const answers: Record<string, TaskView> = { a: firstFailure };
    const reads: TaskReads = {
      stored: (id) => Promise.resolve(answers[id] && { view: answers[id] }),
      finished: (id) => Promise.resolve(answers[id] && { view: answers[id] }),
    };
    const sent: string[] = [];
    const sequencer = new TaskEventSequencer(
      reads,
      (u) => sent.push(`${u.view.status} ${u.view.finishedAt}`),
      () => undefined,
    );
    sequencer.created({ view: view('a') });
    // The first failure's event is handled before the worker's own report of it: read and sent.
    sequencer.handle('a', 'failed');
    await settle();
    sequencer.finishedHere({ view: firstFailure });
    // Retried: queued again, then its events run ahead of the worker's report of the new failure.
    answers.a = view('a', { status: 'queued', attempt: 0, attempts: 3 });
    sequencer.handle('a', 'waiting');
    await settle();
    answers.a = secondFailure;
    sequencer.handle('a', 'failed');
    await settle();
    expect(sent).toEqual(['failed 2026-12-01T10:00:01.000Z', 'queued null', 'failed 2026-12-01T10:00:05.000Z']);
  });

  it('after its events reconnect, reads again the tasks it last saw unfinished and sends what changed', async () => {
    const { reads, release, pending } = heldReads({ a: view('a', { status: 'completed', progress: 100 }) });
    const sent: string[] = [];
    const sequencer = new TaskEventSequencer(
      reads,
      (u) => sent.push(`${u.view.id} ${u.view.status}`),
      () => undefined,
    );
    sequencer.created({ view: view('a') });
    sequencer.created({ view: view('b') });
    sequencer.finishedHere({ view: view('b', { status: 'completed', progress: 100 }) });
    sequencer.handle('b', 'completed');
    sequencer.handle('a', 'active');
    // a's completed event was lost with the connection; b's was not.
    expect(sequencer.unfinishedKnown()).toEqual(['a']);
    for (const id of sequencer.unfinishedKnown()) sequencer.handle(id, 'reread');
    await settle();
    expect(pending.map((p) => p.id)).toEqual(['a']);
    release('a');
    await settle();
    expect(sent).toEqual(['b completed', 'a active', 'a completed']);
    expect(sequencer.unfinishedKnown()).toEqual([]);
  });

  it('answers the events of a task it created without reading, in the order they came', () => {
    const sent: string[] = [];
    const sequencer = new TaskEventSequencer(
      heldReads({}).reads,
      (u) => sent.push(`${u.view.status} ${u.view.progress}`),
      () => undefined,
    );
    sequencer.created({ view: view('a') });
    sequencer.handle('a', 'waiting');
    sequencer.handle('a', 'active');
    sequencer.handle('a', 'progress', 40);
    sequencer.finishedHere({ view: view('a', { status: 'completed', progress: 100 }) });
    sequencer.handle('a', 'completed');
    expect(sent).toEqual(['queued 0', 'active 0', 'active 40', 'completed 100']);
  });

  it('sends updates in event order even when a later event needed no read and an earlier one did', async () => {
    const { reads, release, pending } = heldReads({ x: view('x', { status: 'completed', progress: 100 }) });
    const sent: string[] = [];
    const sequencer = new TaskEventSequencer(
      reads,
      (u) => sent.push(`${u.view.id} ${u.view.status}`),
      () => undefined,
    );
    sequencer.created({ view: view('y') });
    sequencer.handle('x', 'completed'); // finished elsewhere: read back
    sequencer.handle('y', 'active'); // known, but behind x
    await settle();
    expect(pending.map((p) => p.id)).toEqual(['x']);
    expect(sent).toEqual([]);
    release('x');
    await settle();
    expect(sent).toEqual(['x completed', 'y active']);
  });

  it('never sends a finished task again for an event that arrives late', async () => {
    const sent: string[] = [];
    const sequencer = new TaskEventSequencer(
      heldReads({}).reads,
      (u) => sent.push(u.view.status),
      () => undefined,
    );
    sequencer.created({ view: view('a') });
    sequencer.finishedHere({ view: view('a', { status: 'failed', error: 'boom' }) });
    sequencer.handle('a', 'failed');
    sequencer.handle('a', 'waiting');
    sequencer.handle('a', 'progress', 10);
    await settle();
    expect(sent).toEqual(['failed']);
  });

  it('warns about a read that fails and goes on with the next events', async () => {
    const warnings: string[] = [];
    const sent: string[] = [];
    const reads: TaskReads = {
      stored: () => Promise.reject(new Error('Redis away')),
      finished: () => Promise.reject(new Error('Redis away')),
    };
    const sequencer = new TaskEventSequencer(
      reads,
      (u) => sent.push(u.view.id),
      (m) => warnings.push(m),
    );
    sequencer.handle('lost', 'active');
    sequencer.created({ view: view('b') });
    sequencer.handle('b', 'active');
    await settle();
    await settle();
    expect(warnings).toEqual(['task lost event: Redis away (read again once the store answers)']);
    expect(sent).toEqual(['b']);
  });

  it('keeps the tasks whose read failed, once each, so a final state is still sent once the store answers', async () => {
    let away = true;
    const warnings: string[] = [];
    const sent: string[] = [];
    const read = (id: string) =>
      away ? Promise.reject(new Error('Redis away')) : Promise.resolve({ view: view(id, { status: 'completed', progress: 100 }) });
    const sequencer = new TaskEventSequencer(
      { stored: read, finished: read },
      (u) => sent.push(`${u.view.id} ${u.view.status}`),
      (m) => warnings.push(m),
    );
    sequencer.handle('x', 'active');
    sequencer.handle('x', 'completed');
    await settle();
    await settle();
    expect(sent).toEqual([]);
    expect(warnings).toHaveLength(1);
    away = false;
    const unread = sequencer.takeUnread();
    expect(unread).toEqual(['x']);
    expect(sequencer.takeUnread()).toEqual([]);
    for (const id of unread) sequencer.handle(id, 'reread');
    await settle();
    await settle();
    expect(sent).toEqual(['x completed']);
  });
});
