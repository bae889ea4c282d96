// Ref counting: the components holding the connection open (`retain`/`release`), and
// its close a tick after the last one lets go.

/** How many hold the connection open, and the close that waits a tick after the last let go. */
export class Holders {
  /** Handles holding the connection open (see `PulseConnection.retain`). */
  private holders = 0;
  private releaseTimer: ReturnType<typeof setTimeout> | null = null;

  /** One more holder; a close waiting for the tick to end is called off. */
  retain(): void {
    this.holders += 1;
    if (this.releaseTimer) {
      clearTimeout(this.releaseTimer);
      this.releaseTimer = null;
    }
  }

  /** One fewer holder; when none is left, `close` runs a tick later unless one retains before. */
  release(close: () => void): void {
    this.holders = Math.max(0, this.holders - 1);
    if (this.holders > 0 || this.releaseTimer) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      if (this.holders === 0) close();
    }, 0);
  }
}
