import type { ChildProcess } from 'node:child_process';

export declare const NEXT_TICK_PROBE_FLAGS: string[];
export declare function literalSlotStates(printed: string): string[];
export declare function withStdoutFile<T extends ChildProcess>(start: (fd: number) => T): { child: T; path: string };
export declare function probeNextTick(child: ChildProcess, stdoutPath: string): Promise<string[]>;
