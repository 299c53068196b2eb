import { ApiProperty } from '@nestjs/swagger';
import type { BackendState } from './backend.js';

export class AttemptOutcomesDto {
  @ApiProperty() success!: number;
  @ApiProperty({ description: '5xx answers' }) status_5xx!: number;
  @ApiProperty({ description: 'Connection refused or unreachable' }) connect!: number;
  @ApiProperty({ description: 'No response headers within MAX_RESPONSE_DELAY_MS' }) timeout!: number;
  @ApiProperty({ description: 'Connection reset or broken mid-exchange' }) reset!: number;
  @ApiProperty({ description: 'The client left before the answer' }) client_gone!: number;
}

export class ReportedLoadDto {
  @ApiProperty({ description: 'Clients in flight the backend last reported (x-ballast-load)' })
  clients!: number;
  @ApiProperty({ description: 'Its READY_MAX_CLIENTS: cooldown starts there' })
  maxClients!: number;
  @ApiProperty({ description: 'Its READY_MIN_CLIENTS: cooldown ends below it' })
  minClients!: number;
  @ApiProperty()
  cooldown!: boolean;
  @ApiProperty({ description: 'It refuses requests in cooldown (READY_SHED): the balancer keeps it below its MAX' })
  shed!: boolean;
  @ApiProperty({ description: 'How old the report is, ms' })
  ageMs!: number;
  @ApiProperty({ description: "It takes another request now, by this worker's count and its report" })
  freeSlot!: boolean;
}

export class QueueStatusDto {
  @ApiProperty({ description: 'Requests waiting for a free slot, every worker' })
  waiting!: number;
  @ApiProperty({ description: 'BALANCER_QUEUE_MS: the longest any waits' })
  maxWaitMs!: number;
}

export class BackendStatusDto {
  @ApiProperty({ example: 'http://127.0.0.1:8000' })
  url!: string;
  @ApiProperty({ enum: ['ejected', 'busy', 'probing', 'unready', 'up'], description: 'Worst condition first' })
  state!: BackendState;
  @ApiProperty({ description: 'Takes new requests (not ejected, busy or probing) and its last /ready check passed' })
  healthy!: boolean;
  @ApiProperty({ description: 'Last active /ready check passed' })
  ready!: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'ISO time the ejection ends, or null' })
  ejectedUntil!: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'ISO time a "busy" 503 + Retry-After ends, or null' })
  busyUntil!: string | null;
  @ApiProperty({ description: 'Back from an ejection: one probe request before its full share' })
  halfOpen!: boolean;
  @ApiProperty({ description: '5xx responses in a row (EJECT_CONSECUTIVE_5XX ejects); the longest streak a worker saw' })
  consecutive5xx!: number;
  @ApiProperty({ description: 'Ejections in a row: the next lasts this + 1 times RETRY_DOWNTIME_MS' })
  ejections!: number;
  @ApiProperty({ description: 'Why it was last ejected or marked busy; empty if never' })
  lastVerdict!: string;
  @ApiProperty({ description: 'Requests in flight to it, every worker' })
  inFlight!: number;
  @ApiProperty({ description: 'Open WebSocket tunnels to it, every worker' })
  tunnels!: number;
  @ApiProperty({ description: "Peak-EWMA time to response headers, ms (the slowest worker's view)" })
  ewmaLatencyMs!: number;
  @ApiProperty({ description: 'Attempts sent to it, every worker' })
  requests!: number;
  @ApiProperty({ description: 'Attempts that failed, every worker' })
  failures!: number;
  @ApiProperty({ type: AttemptOutcomesDto, description: 'Attempts by outcome, every worker' })
  outcomes!: AttemptOutcomesDto;
  @ApiProperty({ description: 'Entries it holds in the sticky table: items, and tasks and clientIds when it keeps tasks locally' })
  stickyItems!: number;
  @ApiProperty({
    description:
      'It keeps tasks in memory (no Redis; from its load reports): its tasks, and its clientIds’ creates and sockets, are sent to it',
  })
  keepsTasksLocally!: boolean;
  @ApiProperty({
    type: ReportedLoadDto,
    nullable: true,
    description: "Its last load report (this worker's view), or null if it sends none",
  })
  reportedLoad!: ReportedLoadDto | null;
}

export class WorkerBackendDto {
  @ApiProperty()
  url!: string;
  @ApiProperty({ description: "This worker's requests in flight to it" })
  inFlight!: number;
  @ApiProperty({ description: 'Attempts this worker sent it' })
  requests!: number;
  @ApiProperty({
    type: Number,
    nullable: true,
    description:
      "The backend's slots this worker keeps to while another worker's requests wait (a shedding backend's MAX, or MIN in cooldown, split by arrivals); null while it is not held to a share",
  })
  share!: number | null;
}

export class WorkerStatusDto {
  @ApiProperty({ description: 'Cluster worker id (0 without a cluster)' })
  worker!: number;
  @ApiProperty({ description: "Requests waiting in this worker's admission queue" })
  queued!: number;
  @ApiProperty({ type: [WorkerBackendDto] })
  backends!: WorkerBackendDto[];
}

export class BalancerStatusDto {
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'The cluster worker that answered (BALANCER_WORKERS > 1), else null',
  })
  worker!: number | null;
  @ApiProperty({
    description:
      'Workers whose counters are summed in this answer (BALANCER_WORKERS, less any that did not answer within a second); 1 without a cluster',
  })
  workers!: number;
  @ApiProperty({ enum: ['round-robin', 'least-latency'] })
  strategy!: string;
  @ApiProperty({ description: 'Every available backend is unready, so unready ones take traffic (panic floor)' })
  panic!: boolean;
  @ApiProperty({ type: [BackendStatusDto] })
  backends!: BackendStatusDto[];
  @ApiProperty({ description: 'Sticky entries (items; tasks and clientIds of backends that keep tasks locally) with a recorded owner' })
  stickyItems!: number;
  @ApiProperty({
    type: [WorkerStatusDto],
    description: "Each worker's own part (its traffic, its queue, its shares of shedding backends), the workers that answered",
  })
  byWorker!: WorkerStatusDto[];
  @ApiProperty({ type: QueueStatusDto, description: 'The admission queue' })
  queue!: QueueStatusDto;
}
