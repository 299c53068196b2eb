export type TaskStatus = 'queued' | 'active' | 'completed' | 'failed';

/** What GET /tasks/:id and every `task` WebSocket frame carry. */
export interface TaskView {
  readonly id: string;
  readonly status: TaskStatus;
  /** 0-100. */
  readonly progress: number;
  readonly result: unknown;
  readonly error: string | null;
  readonly createdAt: string;
  readonly finishedAt: string | null;
}

export interface TaskSpec {
  readonly durationMs: number;
  readonly payload?: unknown;
  /** Socket clients that connected with this id get the task's frames unasked. */
  readonly clientId?: string;
}

/** A status change, with the creator's client id for routing frames. */
export interface TaskUpdate {
  readonly view: TaskView;
  readonly clientId?: string;
}
