import { Engine, silentSink, type ChangeEvent, type Parameters } from "@rtbackup/core";
import { FanotifySourcePlugin, type FanotifySourceOptions } from "@rtbackup/plugin-fanotify";

/** Collects what a source submits and waits for expected events with a deadline (never a fixed sleep). */
export class Recorder {
  events: ChangeEvent[] = [];

  clear(): void {
    this.events = [];
  }

  /** Resolves with the first recorded event matching `predicate`, polling until `timeoutMs`. */
  async waitFor(predicate: (event: ChangeEvent) => boolean, what: string, timeoutMs = 5000): Promise<ChangeEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events.slice(0, 40))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Waits for an update of `path`. */
  update(path: string, timeoutMs?: number): Promise<ChangeEvent> {
    return this.waitFor((e) => e.type === "update" && e.path === path, `update ${path}`, timeoutMs);
  }

  /** Waits for a move `from` → `to`. */
  move(from: string, to: string): Promise<ChangeEvent> {
    return this.waitFor((e) => e.type === "move" && e.from === from && e.to === to, `move ${from} -> ${to}`);
  }

  /** Waits for a delete of `path`. */
  delete(path: string): Promise<ChangeEvent> {
    return this.waitFor((e) => e.type === "delete" && e.path === path, `delete ${path}`);
  }

  /** Every path an event names. */
  paths(): string[] {
    return this.events.flatMap((e) => (e.type === "move" ? [e.from, e.to] : [e.path]));
  }
}

/** An engine with only the fanotify plugin, its submitted events captured, started. Call `stop()` in finally. */
export async function startSource(
  options: FanotifySourceOptions,
  parameters: Partial<Parameters> = {},
): Promise<{ engine: Engine; plugin: FanotifySourcePlugin; recorder: Recorder; stop: () => Promise<void> }> {
  const plugin = new FanotifySourcePlugin(options);
  const engine = new Engine({ log: { sink: silentSink }, parameters, plugins: [plugin] });
  const recorder = new Recorder();
  engine.setSubmitHandler((event) => recorder.events.push(event));
  await engine.hooks.initialize.promise();
  return { engine, plugin, recorder, stop: () => engine.hooks.shutdown.promise() };
}
