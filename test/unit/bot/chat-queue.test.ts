import { describe, expect, it } from "vitest";
import { KeyedQueue } from "../../../bot/router/chat-queue.ts";

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("KeyedQueue", () => {
  it("runs one key's tasks in order, one at a time, whether waited for (run) or not (enqueue)", async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const first = gate();
    const done = queue.run("a", async () => {
      log.push("a1 start");
      await first.promise;
      log.push("a1 end");
    });
    queue.enqueue("a", async () => {
      log.push("a2");
    });
    const third = queue.run("a", async () => {
      log.push("a3");
    });
    queue.enqueue("b", async () => {
      log.push("b1");
    });
    await Promise.resolve();
    expect(log).toEqual(["a1 start", "b1"]); // b does not wait for a
    expect(queue.pending).toBe(3);
    first.open();
    await Promise.all([done, third]);
    expect(log).toEqual(["a1 start", "b1", "a1 end", "a2", "a3"]);
    await queue.drain();
    expect(queue.pending).toBe(0);
    expect(queue.activeKeys).toBe(0);
  });

  it("moves on after a task that fails or throws, and reports it only to a caller that waits", async () => {
    const queue = new KeyedQueue();
    queue.enqueue("a", async () => {
      throw new Error("not waited for");
    });
    queue.enqueue("a", () => {
      throw new Error("thrown synchronously");
    });
    const waited = queue.run("a", async () => {
      throw new Error("waited for");
    });
    const after = queue.run("a", async () => undefined);
    await expect(waited).rejects.toThrow("waited for");
    await expect(after).resolves.toBeUndefined();
    await queue.drain();
    expect(queue.pending).toBe(0);
  });

  it("whenBelow resolves once the backlog is under the limit", async () => {
    const queue = new KeyedQueue();
    const hold = gate();
    for (const key of ["a", "b", "c"]) queue.enqueue(key, () => hold.promise);
    let below = false;
    const waiting = queue.whenBelow(2).then(() => (below = true));
    await Promise.resolve();
    expect(below).toBe(false);
    await expect(queue.whenBelow(4)).resolves.toBeUndefined();
    hold.open();
    await waiting;
    expect(below).toBe(true);
  });

  it("counts jobs waiting behind a running one, and whenBelow can wait for that count", async () => {
    const queue = new KeyedQueue();
    const hold = gate();
    queue.enqueue("a", () => hold.promise);
    queue.enqueue("b", () => hold.promise);
    expect(queue.waiting).toBe(0); // both started at once
    queue.enqueue("a", async () => undefined);
    queue.enqueue("a", async () => undefined);
    expect(queue.waiting).toBe(2);
    expect(queue.pending).toBe(4);
    let room = false;
    const waiting = queue.whenBelow(100, 2).then(() => (room = true));
    await Promise.resolve();
    expect(room).toBe(false);
    hold.open();
    await waiting;
    expect(room).toBe(true);
    await queue.drain();
    expect(queue.waiting).toBe(0);
    expect(queue.pending).toBe(0);
  });

  it("starts a long line of jobs that finish at once without deep recursion", () => {
    const queue = new KeyedQueue();
    let done = 0;
    const jobs = 100_000;
    // The first job holds the key until every other one is queued, then all finish synchronously.
    let releaseFirst!: () => void;
    queue.admit("k", {
      start: () => {
        releaseFirst = () => queue.release("k");
      },
    });
    for (let i = 0; i < jobs; i++)
      queue.admit("k", {
        start: () => {
          done++;
          queue.release("k");
        },
      });
    expect(queue.waiting).toBe(jobs);
    releaseFirst();
    expect(done).toBe(jobs);
    expect(queue.pending).toBe(0);
    expect(queue.activeKeys).toBe(0);
  });
});
