/**
 * The store contract on real PostgreSQL (127.0.0.1:5432, database `test`), in a fresh schema per run selected
 * through the connection string's `options=-c search_path=…`, dropped afterwards.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { describe } from "vitest";
import { openStore } from "../../bot/index.ts";
import { POSTGRES_URL, serviceAvailable } from "../helpers/services.ts";
import { defineStoreContract } from "./store.contract.ts";

const isUp = await serviceAvailable("postgres");
const schema = `t_${randomBytes(6).toString("hex")}`;

function schemaUrl(): string {
  const url = new URL(POSTGRES_URL);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe.skipIf(!isUp)("PostgreSQL", () => {
  let created: Promise<unknown> | undefined;
  defineStoreContract("PostgreSQL", {
    async open() {
      created ??= admin((client) => client.query(`CREATE SCHEMA ${schema}`));
      await created;
      return openStore({ dataDir: "unused", databaseUrl: schemaUrl() });
    },
    allowsConcurrentOpen: true,
    async cleanup() {
      await admin((client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    },
  });
});
