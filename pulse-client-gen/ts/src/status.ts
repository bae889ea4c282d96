// What the connection shows of itself: its state, the next try, a refusal's reason and
// how the last connection ended (what a page reads in `status`), and who is told when
// they change.

export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** Why the connection last closed, as the server said it. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/** Why the server refuses this client's connection: the HTTP status and the server's words. */
export interface Refusal {
  status: number;
  reason: string;
}

/** What a page shows of its connection (see `useConnectionStatus`). */
export interface ConnectionStatus {
  state: ConnectionState;
  /** While reconnecting: when the next attempt is made (milliseconds since the epoch). */
  retryAt: number | null;
  /**
   * Why the server refuses the connection, when it does: an upgrade the browser saw fail
   * is asked about (a probe of the same URL), since the browser cannot read the refusal.
   * `null` once a connection is taken.
   */
  refused: Refusal | null;
  /** How the last connection ended, if one did. */
  lastClose: CloseInfo | null;
}

/** The listeners of the connection's state and of its status, and the status last reported. */
export class StatusReporter {
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly statusListeners = new Set<(status: ConnectionStatus) => void>();
  /** The status last reported (a new object each time it changes). */
  current: ConnectionStatus = { state: "connecting", retryAt: null, refused: null, lastClose: null };

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** The connection's state changed to `state`. */
  stateChanged(state: ConnectionState): void {
    for (const listener of [...this.stateListeners]) listener(state);
  }

  /** The status is now made of these: reported unless each is the one last reported. */
  update(state: ConnectionState, retryAt: number | null, refused: Refusal | null, lastClose: CloseInfo | null): void {
    const now = this.current;
    if (now.state === state && now.retryAt === retryAt && now.refused === refused && now.lastClose === lastClose) return;
    this.current = { state, retryAt, refused, lastClose };
    for (const listener of [...this.statusListeners]) listener(this.current);
  }
}
