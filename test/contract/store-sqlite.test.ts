/** The store contract on the embedded database (SQLite), file-backed in a temporary data folder. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../bot/index.ts";
import { defineStoreContract } from "./store.contract.ts";

const dataDir = await mkdtemp(join(tmpdir(), "switchboard-store-"));

defineStoreContract("embedded SQLite (file-backed)", {
  open: () => openStore({ dataDir }),
  allowsConcurrentOpen: false,
  cleanup: () => rm(dataDir, { recursive: true, force: true }),
});
