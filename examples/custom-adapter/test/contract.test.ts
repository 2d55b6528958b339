/**
 * The Pigeon adapter against the adapter contract suite that every built-in adapter passes, imported from the
 * installed package (`switchboard/testing`), with the stand-in Pigeon server behind it.
 */
import type { Inbound } from "switchboard";
import { telegramHtml, telegramHtmlToText } from "switchboard/adapters/shared";
import { type AdapterHarness, adapterContract } from "switchboard/testing";
import { PigeonAdapter } from "../src/pigeon-adapter.ts";
import { startPigeon } from "./pigeon-stand-in.ts";

async function pigeonHarness(): Promise<AdapterHarness> {
  const pigeon = await startPigeon();
  const adapter = new PigeonAdapter({ baseUrl: pigeon.url, token: pigeon.token });
  const received = new Map<string, Inbound>();
  const waiters = new Map<string, (inbound: Inbound) => void>();
  await adapter.start(async (inbound) => {
    received.set(inbound.deliveryId, inbound);
    waiters.get(inbound.deliveryId)?.(inbound);
  });
  return {
    adapter,
    deliver(input) {
      const deliveryId = `pigeon:${pigeon.push(input)}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${deliveryId} never reached the sink`)), 5000);
        const done = (inbound: Inbound): void => {
          clearTimeout(timer);
          waiters.delete(deliveryId);
          resolve(inbound);
        };
        const already = received.get(deliveryId);
        if (already === undefined) waiters.set(deliveryId, done);
        else done(already);
      });
    },
    messages: () => pigeon.messages.map(({ html, ...rest }) => ({ ...rest, raw: html })),
    toPlain: telegramHtmlToText,
    measure: (raw) => telegramHtml.measure?.(raw) ?? raw.length,
    registeredCommands: () => pigeon.commands,
    failNextSend: (failure) => pigeon.failNextSend(failure),
    sendAttempts: () => pigeon.sendAttempts,
    async close() {
      await adapter.stop();
      await pigeon.close();
    },
  };
}

adapterContract("pigeon", pigeonHarness);
