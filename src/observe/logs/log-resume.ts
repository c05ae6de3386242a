// Resuming one container's log stream after a break without showing a line twice. The log API's
// `sinceTime` has whole-second precision, so a resumed stream repeats the lines of the last
// second already delivered; the cursor remembers exactly those lines (time + content, counted, so
// two identical lines in one instant are both kept) and drops their repeats.
import { floorToSecond } from './log-timestamp.ts';

export class ResumeCursor {
  /** Newest time delivered. */
  private last: string | undefined;
  /**
   * Keys (time + content) of the lines delivered within the second of `last`: only that second is
   * kept, since a query reads hundreds of thousands of lines and a resume repeats one second.
   */
  private window: string[] = [];
  private windowSecond = '';
  /** During a replay: lines of `window` not yet seen again. */
  private replay: Map<string, number> | undefined;
  duplicatesDropped = 0;

  /** The cursor starts at `since` (canonical, inclusive) when given: older lines are dropped. */
  constructor(private readonly since?: string) {}

  get lastTime(): string | undefined {
    return this.last;
  }

  /** `sinceTime` for the next request: the second of the newest line, else the query's start. */
  sinceTime(): string | undefined {
    if (this.last) return floorToSecond(this.last);
    return this.since ? floorToSecond(this.since) : undefined;
  }

  /** Call before reading a (re)opened stream: lines of the last second will come again. */
  beginReplay(): void {
    if (this.window.length === 0) {
      this.replay = undefined;
      return;
    }
    const counts = new Map<string, number>();
    for (const key of this.window) counts.set(key, (counts.get(key) ?? 0) + 1);
    this.replay = counts;
  }

  /** Whether a line is new (deliver it) or a repeat / older than the query (drop it). */
  accept(time: string, message: string): boolean {
    if (this.since !== undefined && time < this.since) return false;
    const key = `${time}\0${message}`;
    if (this.replay) {
      if (this.last !== undefined && floorToSecond(time) > floorToSecond(this.last)) this.replay = undefined;
      else {
        const left = this.replay.get(key) ?? 0;
        if (left > 0) {
          if (left === 1) this.replay.delete(key);
          else this.replay.set(key, left - 1);
          this.duplicatesDropped++;
          return false;
        }
      }
    }
    const second = time.slice(0, 19);
    if (second > this.windowSecond) {
      this.window = [];
      this.windowSecond = second;
    }
    if (this.last === undefined || time > this.last) this.last = time;
    if (second === this.windowSecond) this.window.push(key);
    return true;
  }
}
